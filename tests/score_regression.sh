#!/usr/bin/env bash
# CI score regression (issue 7): the demo model's small fixed evaluation (tests/data/ci/demo-regression.json)
# must not fall behind the committed baseline report on any variant or subset. A policy that keeps the wrong
# tokens, a broken kernel or a changed prompt shows up here as a lower score.
#   tests/score_regression.sh KVBENCH SOURCE_DIR
set -euo pipefail
kvbench=$1
cd "$2"
if [ ! -f models/kvbench-demo/config.json ]; then
  echo "models/kvbench-demo is missing (it is committed: is this a partial checkout?)"; exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$kvbench" run --config tests/data/ci/demo-regression.json --output-dir "$out/run" | tee "$out/run.txt"
# The run's table gives every average its 95% interval (issue 18), and the interval holds the average.
python3 - "$out/run.txt" <<'PY'
import re, sys
rows = [l for l in open(sys.argv[1]) if re.match(r"^\S+\s+\d+\.\d\d\s+\[", l)]
assert rows, "the run's table has no row with an average and a 95% interval"
for l in rows:
    m = re.match(r"^(\S+)\s+(\d+\.\d\d)\s+\[(\d+\.\d), (\d+\.\d)\]", l)
    assert m, "unreadable row: " + l
    avg, lo, hi = float(m.group(2)), float(m.group(3)), float(m.group(4))
    assert lo - 0.05 <= avg <= hi + 0.05, "interval does not hold the average: " + l
print(f"{len(rows)} averages with their 95% intervals")
PY
"$kvbench" check --report "$out/run/report.json" --baseline tests/data/ci/demo-baseline-report.json --tol 0
