#!/usr/bin/env bash
# scripts/libtorch.sh, which scripts/setup.sh, build.sh and test.sh use to choose a libtorch: a Python torch first
# (pip or conda; a CUDA torch only from 2.1), one too old passed over with a note, an unpacked libtorch folder
# (or its parent), a folder without one refused, the distribution's libtorch-dev refused when older than 1.13.
#   tests/setup_script_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work/bin"
fakepy() {  # fakepy NAME "VERSION PREFIX CUDA"
  printf '#!/bin/sh\ncat >/dev/null\necho "%s"\n' "$2" >"$work/bin/$1"
  chmod +x "$work/bin/$1"
}
fakepy py-cpu "2.5.1+cpu /opt/torch/share/cmake -"
fakepy py-cuda "2.5.1+cu124 /opt/torchcu/share/cmake 12.4"
fakepy py-old-cuda "2.0.1+cu118 /opt/old/share/cmake 11.8"
fakepy py-old "1.12.0 /opt/older/share/cmake -"
mkdir -p "$work/unzipped/libtorch/share/cmake/Torch"
touch "$work/unzipped/libtorch/share/cmake/Torch/TorchConfig.cmake"
echo "2.4.0+cu121" >"$work/unzipped/libtorch/build-version"
fails=0
check() {  # check DESCRIPTION EXPECTED COMMAND...: EXPECTED is matched against "kind|prefix|version|cuda" or "error"
  local what=$1 want=$2 got
  shift 2
  got=$( (source "$src/scripts/libtorch.sh"
          if "$@" 2>"$work/err"; then echo "$LIBTORCH_KIND|$LIBTORCH_PREFIX|$LIBTORCH_VERSION|$LIBTORCH_CUDA"
          else echo "error: $(cat "$work/err")"; fi) )
  if [[ "$got" == $want ]]; then echo "ok   $what"; else echo "FAIL $what: got '$got', want '$want'"; fails=$((fails + 1)); fi
}
check "a pip CPU torch" "python|/opt/torch/share/cmake|2.5.1+cpu|" kvbench_find_libtorch python "$work/bin/py-cpu"
check "a pip CUDA torch" "python|/opt/torchcu/share/cmake|2.5.1+cu124|12.4" kvbench_find_libtorch auto "$work/bin/py-cuda"
check "a CUDA torch 2.0 is too old" "error:*no Python with torch*" kvbench_find_libtorch python "$work/bin/py-old-cuda"
check "torch 1.12 is too old" "error:*no Python with torch*" kvbench_find_libtorch python "$work/bin/py-old"
check "an unpacked zip's parent" "dir|$work/unzipped/libtorch|2.4.0+cu121|12.1" kvbench_find_libtorch "$work/unzipped"
check "a folder with no libtorch" "error:*no share/cmake/Torch/TorchConfig.cmake*" kvbench_find_libtorch "$work/bin"
if (source "$src/scripts/libtorch.sh"; kvbench_version_ge 2.10.0 2.9.1 && kvbench_version_ge 2.1.0+cu118 2.1 &&
    ! kvbench_version_ge 1.8.1 1.13); then echo "ok   version order"; else echo "FAIL version order"; fails=$((fails + 1)); fi
[ $fails -eq 0 ] && echo PASS
exit $fails
