#!/usr/bin/env bash
# Stops what setup.sh started (dev-env, Redis, PostgreSQL); keeps the logs in the state dir.
set -uo pipefail
. "$(dirname "$0")/common.sh"

if [ -f "$state/devnet.pid" ]; then
  pid=$(cat "$state/devnet.pid")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null && log "dev-env did not stop in 20 s; killed it"
  fi
  rm -f "$state/devnet.pid"
fi
if [ -f "$state/redis.pid" ]; then
  kill -TERM "$(cat "$state/redis.pid")" 2>/dev/null
  rm -f "$state/redis.pid"
fi
if [ -f "$state/pg/data/postmaster.pid" ]; then
  as_pg "'$(pg_bin)/pg_ctl' -D '$state/pg/data' -m fast -w stop >/dev/null"
fi
log "stopped"
