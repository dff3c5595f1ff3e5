#!/usr/bin/env bash
# Configure against a libtorch older than kvbench supports stops with one line naming the version found and the
# version needed: a CPU libtorch 1.8.1 (Ubuntu 22.04's libtorch-dev) and a CUDA torch 2.0.1, both faked by their
# CMake version and config files, and put first on CMAKE_PREFIX_PATH (a newer system libtorch must not be taken
# instead of the one the user named).
#   tests/torch_version_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
fake() {  # fake VERSION CUDA(0|1) -> prefix
  local prefix="$work/libtorch-$1" dir
  dir="$prefix/share/cmake/Torch"
  mkdir -p "$dir"
  cat >"$dir/TorchConfigVersion.cmake" <<V
set(PACKAGE_VERSION "$1")
if("\${PACKAGE_VERSION}" VERSION_LESS "\${PACKAGE_FIND_VERSION}")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
V
  {
    echo 'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0")'
    echo 'set(TORCH_LIBRARIES torch)'
    echo 'if(NOT TARGET torch)'
    echo '  add_library(torch INTERFACE IMPORTED)'
    [ "$2" = 1 ] && echo '  add_library(c10_cuda INTERFACE IMPORTED)'
    echo 'endif()'
    echo 'set(Torch_FOUND TRUE)'
  } >"$dir/TorchConfig.cmake"
  echo "$prefix"
}
check() {  # check PREFIX EXPECTED_FOUND EXPECTED_NEEDED
  local log="$work/configure-$2.log"
  if cmake -S "$src" -B "$work/build-$2" -DCMAKE_PREFIX_PATH="$1" -DKVBENCH_BUILD_TESTS=OFF >"$log" 2>&1; then
    echo "FAIL: configure against libtorch $2 succeeded"; cat "$log"; exit 1
  fi
  local line
  line=$(grep -E "^error: kvbench: libtorch $2 .*too old.*>= $3" "$log" || true)
  [ "$(printf '%s' "$line" | grep -c .)" -eq 1 ] ||
    { echo "FAIL: no single line naming $2 and >= $3"; cat "$log"; exit 1; }
  echo "ok: $line"
}
check "$(fake 1.8.1 0)" 1.8.1 1.13
check "$(fake 2.0.1 1)" 2.0.1 2.1
echo PASS
