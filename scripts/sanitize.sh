#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer (docs/robustness.md): builds everything
# with clang-14 into build-san/ (-DKVBENCH_FUZZ=ON, which implies -DKVBENCH_SANITIZE=ON, so that the fuzz targets
# of tests/fuzz share this build) and runs CTest there. Extra arguments go to ctest (e.g. -R Robustness).
# Any sanitizer report fails the test it happens in: UBSan halts on the first error, ASan always does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test --sanitize
BUILD_DIR=${BUILD_DIR:-build-san}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 -DKVBENCH_FUZZ=ON >/dev/null
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
# libtorch (not instrumented) keeps a few allocations to exit by design; tests/fuzz/lsan.supp names them.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
ctest --test-dir "$BUILD_DIR" --output-on-failure --parallel "$(nproc)" "$@"
