#!/usr/bin/env bash
# Runs every fuzz target for $SECONDS_EACH seconds (default 300), one after the other, one job
# each (the machine is shared), and prints a summary line per target. Needs cargo-fuzz and a
# nightly toolchain (or RUSTC_BOOTSTRAP=1 on stable). See RELIABILITY.md.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_EACH:-300}
targets=${TARGETS:-"mastodon_notifications mastodon_statuses bluesky_notifications bluesky_get_posts x_mentions x_tweets slack_events slack_http discord_events payload config"}
mkdir -p fuzz/logs
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  start=$(date -u +%H:%M:%S)
  rm -f fuzz-0.log
  cargo +nightly fuzz run -s none -a "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      -max_total_time="$seconds" -jobs=1 -workers=1 -timeout=25 -print_final_stats=1 \
      > "fuzz/logs/$target.out" 2>&1
  echo "exit $?" >> "fuzz/logs/$target.out"
  [ -f fuzz-0.log ] && mv fuzz-0.log "fuzz/logs/$target.log"
  end=$(date -u +%H:%M:%S)
  runs=$(grep -h "stat::number_of_executed_units" "fuzz/logs/$target.log" "fuzz/logs/$target.out" 2>/dev/null | tail -1 | awk '{print $2}')
  speed=$(grep -h "stat::average_exec_per_sec" "fuzz/logs/$target.log" "fuzz/logs/$target.out" 2>/dev/null | tail -1 | awk '{print $2}')
  cov=$(grep -h "cov: " "fuzz/logs/$target.log" "fuzz/logs/$target.out" 2>/dev/null | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  crashes=$(ls "fuzz/artifacts/$target" 2>/dev/null | wc -l)
  echo "$target start=$start end=$end execs=$runs exec/s=$speed cov=$cov artifacts=$crashes $(tail -1 fuzz/logs/$target.out)" | tee -a fuzz/logs/summary.txt
done
