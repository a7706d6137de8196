#!/usr/bin/env bash
# `opsroom patterns`: grouping accuracy per Loghub system beside Drain's
# published (tuned) figures, then lines/s and peak RSS of
# `opsroom patterns --json` on the 12 samples concatenated and on a 1 GiB
# generated file (written to /tmp, removed after unless KEEP=1).
# usage: bench/patterns_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/loghub
cargo build --release -p opsroom
cargo test --release -p opsroom-patterns --test loghub -- --nocapture --test-threads 1 2>/dev/null \
  | grep -oE 'system +GA.*|^mean .*|^[A-Z][A-Za-z]+ +[0-9.].*'
all=/tmp/opsroom-patterns-loghub-all.log
cat "$data"/*/*_2k.log > "$all"
python3 bench/measure.py "loghub samples concatenated" "$all" ./target/release/opsroom patterns --json "$all"
big=/tmp/opsroom-patterns-1g.log
[ -f "$big" ] || python3 bench/gen_logs.py "$big" $((1 << 30))
python3 bench/measure.py "generated 1 GiB" "$big" ./target/release/opsroom patterns --json "$big"
python3 bench/measure.py "generated 1 GiB, table" "$big" ./target/release/opsroom patterns "$big"
[ "${KEEP:-0}" = 1 ] || rm -f "$big"
rm -f "$all"
