#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (docs/robustness.md), each for --seconds (default 60), --jobs at a
# time (default: the number of cores). Builds them first into build-san/ (clang-14, ASan + UBSan).
#
#   bash tests/fuzz/run.sh                          # every target, a minute each
#   bash tests/fuzz/run.sh --seconds 300 safetensors hf_tokenizer
#
# The corpus of each target grows in build-san/fuzz/corpus/<target> (seeded by make_seeds.py); a crash, leak or
# sanitizer report leaves its input in build-san/fuzz/crashes/<target>/ and the log in build-san/fuzz/logs/, and
# makes the script exit 1. Replay one input with: build-san/fuzz/fuzz_<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=60
JOBS=$(nproc)
BUILD_DIR=${BUILD_DIR:-build-san}
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
ALL=$(sed -n 's/^set(KVBENCH_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
[ ${#TARGETS[@]} -gt 0 ] || read -r -a TARGETS <<< "$ALL"
for t in "${TARGETS[@]}"; do
  case " $ALL " in *" $t "*) ;; *) echo "run.sh: no fuzz target '$t' (targets: $ALL)" >&2; exit 2 ;; esac
done

bash scripts/deps.sh --test --sanitize
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 -DKVBENCH_FUZZ=ON >/dev/null
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target $(printf 'fuzz_%s ' "${TARGETS[@]}")

FUZZ=$BUILD_DIR/fuzz
rm -rf "$FUZZ/seeds"
python3 tests/fuzz/make_seeds.py "$FUZZ/seeds" .
mkdir -p "$FUZZ/logs"
# libtorch leaks a few allocations by design at exit (thread pools, registries); the suppressions name them.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run_target() {
  local t=$1
  mkdir -p "$FUZZ/corpus/$t" "$FUZZ/crashes/$t" "$FUZZ/seeds/$t"
  if "$FUZZ/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      -dict=tests/fuzz/nesting_sizes.dict -max_len=262144 \
      -artifact_prefix="$FUZZ/crashes/$t/" "$FUZZ/corpus/$t" "$FUZZ/seeds/$t" > "$FUZZ/logs/$t.log" 2>&1; then
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$FUZZ/logs/$t.log" | tail -1)
    echo "$t: ${runs:-?} inputs in ${SECONDS_PER_TARGET} s, corpus $(ls "$FUZZ/corpus/$t" | wc -l) files, no crash"
  else
    echo "$t: FAILED, see $FUZZ/logs/$t.log and $FUZZ/crashes/$t/"
    grep -m3 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$FUZZ/logs/$t.log" || true
    return 1
  fi
}

status=0
pids=()
for t in "${TARGETS[@]}"; do
  run_target "$t" & pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
