#!/usr/bin/env bash
# Build kvbench on the GPU machine against the libtorch inside the pip torch wheel.
#   BUILD_DIR (default build-gpu)   KVBENCH_BUILD_TESTS (default OFF)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build-gpu}
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

# Torch's CMake config finds the CUDA toolkit through nvcc.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

# pcre2 / utf8proc / minizip headers: the system's if present, else the copy scripts/gpu-deps.sh unpacked into .deps.
deps=()
if [ ! -f /usr/include/pcre2.h ] || [ ! -f /usr/include/utf8proc.h ] || [ ! -f /usr/include/minizip/unzip.h ]; then
  [ -d .deps/root ] || { echo "no pcre2/utf8proc/minizip headers: run scripts/gpu-deps.sh where there is network and carry .deps"; exit 1; }
  deps=(-DKVBENCH_DEPS_PREFIX="$PWD/.deps/root")
  export LD_LIBRARY_PATH="$PWD/.deps/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
fi

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

# CMAKE_POLICY_VERSION_MINIMUM: cmake 4 refuses old cmake_minimum_required() calls in third-party config files.
cmake -S . -B "$BUILD_DIR" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DTORCH_CUDA_ARCH_LIST=9.0 -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DKVBENCH_BUILD_TESTS="${KVBENCH_BUILD_TESTS:-OFF}" "${deps[@]}"
cmake --build "$BUILD_DIR" --parallel "$(nproc)"

"$BUILD_DIR/kvbench" --version
