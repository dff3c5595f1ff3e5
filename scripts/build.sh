#!/usr/bin/env bash
# Configures and builds kvbench into build/. Settings, all optional, from the environment:
#   BUILD_DIR (build)  LIBTORCH: auto (a Python torch, else the distribution's libtorch-dev), python, system, or the
#   folder of an unpacked libtorch   PYTHON: the interpreter whose torch to use   KVBENCH_CUDA_ARCHITECTURES: auto
#   (the GPUs visible, else those torch was built for) or a list such as 80;90   KVBENCH_BUILD_TESTS (ON)
#   JOBS (all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/libtorch.sh
BUILD_DIR=${BUILD_DIR:-build}
kvbench_find_libtorch "${LIBTORCH:-auto}" "${PYTHON:-}"
echo "libtorch: $LIBTORCH_VERSION (${LIBTORCH_KIND}${LIBTORCH_PREFIX:+: $LIBTORCH_PREFIX}${LIBTORCH_CUDA:+, CUDA $LIBTORCH_CUDA})"

args=(-DCMAKE_BUILD_TYPE=Release "-DKVBENCH_BUILD_TESTS=${KVBENCH_BUILD_TESTS:-ON}"
      "-DKVBENCH_CUDA_ARCHITECTURES=${KVBENCH_CUDA_ARCHITECTURES:-auto}")
[ -n "$LIBTORCH_PREFIX" ] && args+=("-DCMAKE_PREFIX_PATH=$LIBTORCH_PREFIX")
[ -n "$LIBTORCH_PYTHON" ] && args+=("-DKVBENCH_TORCH_PYTHON=$LIBTORCH_PYTHON")
[ -d .deps/root ] && args+=("-DKVBENCH_DEPS_PREFIX=$PWD/.deps/root")   # scripts/deps.sh --deps-dir
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] && command -v ninja >/dev/null; then args+=(-G Ninja); fi
if command -v ccache >/dev/null; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
# cmake 4 refuses the old cmake_minimum_required() of torch's own config files unless told the policy floor.
cmake_major=$(cmake --version | sed -n 's/^cmake version \([0-9]*\).*/\1/p')
[ "${cmake_major:-3}" -ge 4 ] && args+=(-DCMAKE_POLICY_VERSION_MINIMUM=3.5)
# A CUDA torch's CMake set-up looks for nvcc; the usual place when it is not on PATH.
if [ -n "$LIBTORCH_CUDA" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

mkdir -p "$BUILD_DIR"
log="$BUILD_DIR/configure.log"
if ! cmake -S . -B "$BUILD_DIR" "${args[@]}" >"$log" 2>&1; then
  grep -E "^error: kvbench" "$log" || tail -n 40 "$log"
  echo "configure failed: the whole output is in $log" >&2
  exit 1
fi
sed -n '/-- -* kvbench configuration/,/^-- -----*$/p' "$log" | grep -v -- "-- ABI kvbench_\(common\|tokenizer\|datasets\|metrics\|report\|device\|model\|policies\|engine\|stats\|runner\|tests\)" || true
cmake --build "$BUILD_DIR" --parallel "${JOBS:-$(nproc)}"
