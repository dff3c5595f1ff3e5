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
"$kvbench" run --config tests/data/ci/demo-regression.json --output-dir "$out/run"
"$kvbench" check --report "$out/run/report.json" --baseline tests/data/ci/demo-baseline-report.json --tol 0
