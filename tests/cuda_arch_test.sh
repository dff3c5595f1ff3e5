#!/usr/bin/env bash
# cmake/KvbenchCudaArchitectures.cmake: which GPU architectures the kernels are built for, from a given list, from
# the GPUs visible (a fake nvidia-smi), from torch's list (a fake Python) and as nvcc allows (a fake nvcc).
#   tests/cuda_arch_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work/bin"
cat >"$work/bin/nvcc" <<'N'
#!/bin/sh
[ "$1" = --list-gpu-arch ] && printf 'compute_75\ncompute_80\ncompute_86\ncompute_89\n%s' "${FAKE_NVCC_90:-compute_90}"
N
cat >"$work/bin/nvidia-smi" <<'N'
#!/bin/sh
[ -n "$FAKE_SMI" ] || exit 9
printf '%b' "$FAKE_SMI"
N
cat >"$work/bin/python" <<'N'
#!/bin/sh
echo "sm_50;sm_60;sm_70;sm_75;sm_80;sm_86;sm_90"
N
chmod +x "$work/bin/"*
cat >"$work/resolve.cmake" <<C
cmake_minimum_required(VERSION 3.18)
list(APPEND CMAKE_MODULE_PATH "$src/cmake")
set(CMAKE_CUDA_COMPILER "$work/bin/nvcc")
include(KvbenchCudaArchitectures)
kvbench_cuda_architectures(archs)
message(NOTICE "RESULT \${archs} | \${KVBENCH_TORCH_ARCH_LIST} | \${KVBENCH_CUDA_ARCHS_FROM}")
C
fails=0
expect() {  # expect ARCH_SETTING EXPECTED [PYTHON] [env...]
  local setting=$1 want=$2 py=${3:-}
  shift 3 || shift $#
  local got
  got=$(env PATH="$work/bin:$PATH" "$@" cmake -DKVBENCH_CUDA_ARCHITECTURES="$setting" -DKVBENCH_TORCH_PYTHON="$py" \
        -P "$work/resolve.cmake" 2>&1 | sed -n 's/^RESULT //p')
  if [ "${got%% |*}" = "$want" ]; then echo "ok   '$setting' -> $got"; else echo "FAIL '$setting' -> '$got', want '$want'"; fails=$((fails + 1)); fi
}
expect 80 "80-real;80-virtual"
expect "90;80" "80-real;90-real;80-virtual"
expect 8.6 "86-real;86-virtual"
expect 75 "80-real;80-virtual"                                   # below 8.0: 8.0's code, unused there
expect 80-real "80-real"                                         # CMake's spelling: as written
expect auto "89-real;89-virtual" "" FAKE_SMI='8.9\n8.9\n'        # the GPUs visible
expect auto "80-real;86-real;90-real;80-virtual" "$work/bin/python" FAKE_SMI=   # no GPU: torch's list from 8.0
expect auto "80-real;86-real;89-real;90-real;80-virtual"         # neither: the default list
expect auto "80-real;86-real;89-real;80-virtual" "" FAKE_NVCC_90=compute_87   # an nvcc that knows no 9.0
if env PATH="$work/bin:$PATH" cmake -DKVBENCH_CUDA_ARCHITECTURES=abc -P "$work/resolve.cmake" >"$work/bad.log" 2>&1 ||
   ! grep -q "names no compute capability" "$work/bad.log"; then
  echo "FAIL: 'abc' was not refused with a message"; fails=$((fails + 1))
else
  echo "ok   'abc' refused"
fi
[ $fails -eq 0 ] && echo PASS
exit $fails
