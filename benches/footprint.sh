#!/usr/bin/env bash
# Footprint of the real bot: time from start to "Console ready", then resident memory and CPU
# while idle for 60 s after the demo feed is consumed.
#
# Usage (from the repository root, after `cargo build --release`):
#   benches/footprint.sh                 # idle window 60 s
#   IDLE_SECONDS=10 benches/footprint.sh
# Env: BIN (default: ${CARGO_TARGET_DIR:-target}/release/mentiondesk), HTTP_PORT (18686),
# CONSOLE_PORT (18687).
#
# The config is the embedded demo config (config.example.toml) with three changes so the run
# cannot disturb anything else on the machine: a temp store, the feed's absolute path, and
# the two listen ports above. The demo feed is paced (about 77 s of `after_ms`); "consumed"
# means the pipeline has logged all 32 mentions as stored.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/mentiondesk}"
idle="${IDLE_SECONDS:-60}"
http_port="${HTTP_PORT:-18686}"
console_port="${CONSOLE_PORT:-18687}"
feed="$root/examples/mentions.jsonl"
feed_lines=$(grep -c . "$feed")

work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

sed -e "s|^path = \"./mentiondesk-data\"|path = \"$work/store\"|" \
    -e "s|^path = \"examples/mentions.jsonl\"|path = \"$feed\"|" \
    -e "s|^listen = \"127.0.0.1:8686\"|listen = \"127.0.0.1:$http_port\"|" \
    -e "s|^listen = \"127.0.0.1:8687\"|listen = \"127.0.0.1:$console_port\"|" \
    "$root/config.example.toml" >"$work/config.toml"

log="$work/log.jsonl"
start_ns=$(date +%s%N)
"$bin" --log-format json run --config "$work/config.toml" 2>"$log" >/dev/null &
pid=$!

# Start → "Console ready".
ready_ms=""
for _ in $(seq 1 3000); do
    if grep -q '"Console ready"' "$log" 2>/dev/null; then
        ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
        break
    fi
    sleep 0.01
done
[[ -n "$ready_ms" ]] || { echo "no \"Console ready\" within 30 s"; cat "$log"; exit 1; }
rss_ready=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")

# Wait for the feed to be consumed (every line stored once).
stored() {
    python3 - "$log" <<'EOF'
import json, sys
total = 0
for line in open(sys.argv[1]):
    try:
        fields = json.loads(line).get("fields", {})
    except ValueError:
        continue
    if fields.get("message") == "Mentions stored":
        total += sum(int(fields.get(k, 0)) for k in ("opened", "joined", "duplicates", "skipped"))
print(total)
EOF
}
consume_start=$(date +%s)
until [[ "$(stored)" -ge "$feed_lines" ]]; do
    if (( $(date +%s) - consume_start > 300 )); then
        echo "feed not consumed after 300 s ($(stored)/$feed_lines)"; exit 1
    fi
    sleep 1
done
consumed_s=$(( $(date +%s) - consume_start ))
sleep 2 # let the outbox post the last cards

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
w0=$(date +%s%N)
max_rss=0
sum_rss=0
samples=0
for _ in $(seq 1 "$idle"); do
    sleep 1
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    (( rss > max_rss )) && max_rss=$rss
    sum_rss=$(( sum_rss + rss ))
    samples=$(( samples + 1 ))
done
t1=$(ticks)
w1=$(date +%s%N)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
cpu_ms=$(( (t1 - t0) * 1000 / hz ))
wall_ms=$(( (w1 - w0) / 1000000 ))

echo "binary:            $bin"
echo "start → Console ready: ${ready_ms} ms (RSS then ${rss_ready} kB)"
echo "feed consumed:     $feed_lines mentions, ${consumed_s} s after ready (paced feed)"
echo "idle window:       ${wall_ms} ms"
echo "idle RSS:          mean $(( sum_rss / samples )) kB, max ${max_rss} kB (peak over the run VmHWM ${hwm} kB)"
echo "idle CPU:          ${cpu_ms} ms user+sys over ${wall_ms} ms = $(awk -v c="$cpu_ms" -v w="$wall_ms" 'BEGIN {printf "%.3f", 100 * c / w}') % of one core"
echo "threads:           $threads"
echo "load:              $(uptime)"
