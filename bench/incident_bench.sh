#!/usr/bin/env bash
# The incident runbook's reading and mining on a large file: lines/s and
# peak RSS of its file source and intake (every line inside the window and
# its baseline) on the 1 GiB generated log and on its first 1,000,000 lines.
# usage: bench/incident_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p opsroom-engine --example incident_bench
bin=./target/release/examples/incident_bench
big=/tmp/opsroom-patterns-1g.log
[ -f "$big" ] || python3 bench/gen_logs.py "$big" $((1 << 30))
head -n 1000000 "$big" > /tmp/opsroom-incident-1m.log
# gen_logs.py's times run from 2024-05-01 and wrap at day 28: a window of
# 14 days up to the 29th, with its 14-day baseline, holds every line.
python3 bench/measure.py "incident, first 1,000,000 lines" /tmp/opsroom-incident-1m.log \
  "$bin" /tmp/opsroom-incident-1m.log 2024-05-29T00:00:00Z 20160
python3 bench/measure.py "incident, generated 1 GiB" "$big" \
  "$bin" "$big" 2024-05-29T00:00:00Z 20160
rm -f /tmp/opsroom-incident-1m.log
[ "${KEEP:-0}" = 1 ] || rm -f "$big"
