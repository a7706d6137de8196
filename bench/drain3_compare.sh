#!/usr/bin/env bash
# drain3 (PyPI) side by side with `opsroom patterns` on the same lines: GA on
# the Loghub samples and lines/s + peak RSS on the samples concatenated and on
# the first 1,000,000 lines of the generated file. Makes its own venv in /tmp.
# usage: bench/drain3_compare.sh [GENERATED_FILE]   (default /tmp/opsroom-patterns-1g.log)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/loghub
big=${1:-/tmp/opsroom-patterns-1g.log}
venv=/tmp/opsroom-drain3-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q drain3
echo "drain3 $("$venv/bin/pip" show drain3 | sed -n 's/^Version: //p'), default configuration"
"$venv/bin/python" bench/drain3_run.py ga "$data"
all=/tmp/opsroom-patterns-loghub-all.log
cat "$data"/*/*_2k.log > "$all"
"$venv/bin/python" bench/drain3_run.py speed "$all"
if [ -f "$big" ]; then
  head -n 1000000 "$big" > /tmp/opsroom-patterns-1m.log
  "$venv/bin/python" bench/drain3_run.py speed /tmp/opsroom-patterns-1m.log
  python3 bench/measure.py "opsroom patterns --json 1m" /tmp/opsroom-patterns-1m.log \
    ./target/release/opsroom patterns --json /tmp/opsroom-patterns-1m.log
  rm -f /tmp/opsroom-patterns-1m.log
fi
