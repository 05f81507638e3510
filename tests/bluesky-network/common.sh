# Shared by setup.sh and teardown.sh: where things live and how to run Postgres' tools.
# shellcheck shell=bash

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Scratch state of one run: Postgres and Redis data, dev-env's temp dir, logs, the env file.
state=${MENTIONDESK_BSKY_DIR:-/tmp/mentiondesk-bsky}
# The installed node_modules, one folder per lockfile hash, kept between runs.
cache=${MENTIONDESK_BSKY_CACHE:-$HOME/.cache/mentiondesk-bsky}
PG_PORT=5433
REDIS_PORT=6380

log() { echo "[bluesky-network] $*"; }
fail() {
  echo "[bluesky-network] error: $*" >&2
  exit 1
}

# The newest installed PostgreSQL's bin folder (Debian puts it under /usr/lib/postgresql/N).
pg_bin() {
  find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
}

# Runs a command as the postgres user when we are root (initdb refuses root), else as us.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}
