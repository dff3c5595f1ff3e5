#!/usr/bin/env bash
# Issue 28's checks on a GPU machine, in two parts that fit a 10-minute command each (build outputs stay between):
#   bash scripts/gpu-setup-check.sh setup DEBS   # scripts/setup.sh as a user runs it (DEBS: .deb files for a
#        machine without network, '-' for none); its CUDA quickstart's report and table come back under OUT to be
#        checked against the CPU quickstart's (kvbench check --tol 0); then the architecture-80-only rebuild
#   bash scripts/gpu-setup-check.sh parity       # tests/gpu/build_parity.py, the CUDA score regression (tolerance
#        0) with each build and with KVBENCH_CUDA_KERNELS=off, then a build without an image for this GPU
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
# The default build is kept as a copy in $DEFAULT (kvbench and its SentencePiece bridge) and build/ is then rebuilt
# for architecture 80 only: only the kernels and what names the architectures recompile.
DEFAULT=${DEFAULT:-/tmp/kvbench-default}
rebuild_for() {  # rebuild_for ARCHS: build/ reconfigured for other kernel architectures
  cmake -S . -B build -DKVBENCH_CUDA_ARCHITECTURES="$1" >/dev/null && cmake --build build --parallel "$(nproc)"
}
demo() {  # demo NAME KVBENCH [ENV...]: the CUDA score regression at tolerance 0
  local name=$1 kv=$2
  shift 2
  step "demo-$name" env "$@" bash -c "rm -rf /tmp/demo-$name && $kv --log-level warn run --config tests/data/ci/demo-regression.json \
    --output-dir /tmp/demo-$name --set model.device=cuda && $kv check --report /tmp/demo-$name/report.json \
    --baseline tests/data/ci/demo-baseline-report.json --tol 0"
}
case "${1:-}" in
  setup)
    debs=${2:?DEBS}
    deps=()
    [ "$debs" = - ] || deps=(--deps-dir "$debs")
    step setup bash scripts/setup.sh "${deps[@]}"
    cp results/quickstart/report.json "$OUT/quickstart-cuda-report.json" 2>/dev/null
    build/kvbench table --report results/quickstart/report.json >"$OUT/quickstart-cuda-table.md" 2>&1
    build/kvbench --version | tee "$OUT/version-default.txt"
    mkdir -p "$DEFAULT" && cp build/kvbench build/libkvbench_spm.so "$DEFAULT/"
    step build-sm80 rebuild_for 80
    build/kvbench --version | tee "$OUT/version-sm80.txt"
    ;;
  parity)
    step build-parity python3 tests/gpu/build_parity.py --kvbench "$DEFAULT/kvbench" --other build/kvbench \
      --workdir /tmp/bp --out "$OUT/build_parity.json"
    demo default "$DEFAULT/kvbench"
    demo sm80 build/kvbench
    demo libtorch "$DEFAULT/kvbench" KVBENCH_CUDA_KERNELS=off
    # A build with machine code for 8.0 only and no PTX: on a newer GPU there is no image; kvbench must say so
    # once and give the same scores through libtorch.
    step build-no-image rebuild_for 80-real
    build/kvbench --version | tee "$OUT/version-no-image.txt"
    demo no-image build/kvbench
    grep -h "cannot run here" /tmp/demo-no-image/*.log "$OUT/demo-no-image.log" 2>/dev/null | head -2
    ;;
  *) echo "usage: gpu-setup-check.sh setup DEBS | parity" >&2; exit 2 ;;
esac
echo "$failed failed step(s)"
exit $failed
