#!/usr/bin/env bash
# Issue 28's checks on a GPU machine, in two parts that fit a 10-minute command each (build outputs stay between):
#   bash scripts/gpu-setup-check.sh setup  DEBS CPU_REPORT   # scripts/setup.sh as a user runs it (DEBS: .deb files
#        for a machine without network, '-' for none), its CUDA quickstart against the CPU quickstart's report
#        (tolerance 0, and the printed tables), then the architecture-80-only rebuild into build-sm80/
#   bash scripts/gpu-setup-check.sh parity                   # tests/gpu/build_parity.py, and the CUDA score
#        regression with each build and with KVBENCH_CUDA_KERNELS=off (tolerance 0)
# Logs and JSON under OUT (default /tmp/kvbench-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/kvbench-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
failed=0
step() {  # step NAME COMMAND...: runs, logs to OUT/NAME.log, prints the tail and the time
  local name=$1 s=$(date +%s)
  shift
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc, $(( $(date +%s) - s )) s"
  tail -n "${TAIL:-15}" "$OUT/$name.log"
  [ $rc -eq 0 ] || failed=$((failed + 1))
  return $rc
}
case "${1:-}" in
  setup)
    debs=${2:?DEBS} cpu_report=${3:?CPU_REPORT}
    deps=()
    [ "$debs" = - ] || deps=(--deps-dir "$debs")
    step setup bash scripts/setup.sh "${deps[@]}"
    step quickstart-vs-cpu bash -c "build/kvbench check --report results/quickstart/report.json --baseline '$cpu_report' --tol 0 &&
      diff <(build/kvbench table --report results/quickstart/report.json) <(build/kvbench table --report '$cpu_report') &&
      echo 'tables identical'"
    cp results/quickstart/report.json "$OUT/quickstart-cuda-report.json" 2>/dev/null
    # The architecture-80 build: a build dir of its own (only the kernels differ, but a user would do this).
    step build-sm80 env BUILD_DIR=build-sm80 KVBENCH_CUDA_ARCHITECTURES=80 KVBENCH_BUILD_TESTS=OFF bash scripts/build.sh
    build-sm80/kvbench --version | tee "$OUT/version-sm80.txt"
    build/kvbench --version | tee "$OUT/version-default.txt"
    ;;
  parity)
    step build-parity python3 tests/gpu/build_parity.py --kvbench build/kvbench --other build-sm80/kvbench \
      --workdir /tmp/bp --out "$OUT/build_parity.json"
    for b in build build-sm80 libtorch; do
      kv=build/kvbench env=()
      [ $b = build-sm80 ] && kv=build-sm80/kvbench
      [ $b = libtorch ] && env=(KVBENCH_CUDA_KERNELS=off)
      step "demo-$b" env "${env[@]}" bash -c "rm -rf /tmp/demo-$b && $kv --log-level warn run --config tests/data/ci/demo-regression.json \
        --output-dir /tmp/demo-$b --set model.device=cuda && $kv check --report /tmp/demo-$b/report.json \
        --baseline tests/data/ci/demo-baseline-report.json --tol 0"
    done
    ;;
  *) echo "usage: gpu-setup-check.sh setup DEBS CPU_REPORT | parity" >&2; exit 2 ;;
esac
echo "$failed failed step(s)"
exit $failed
