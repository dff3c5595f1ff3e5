#!/usr/bin/env bash
# README's first command, on any machine: finds a libtorch, installs the other dependencies, builds kvbench into
# build/, and runs the quickstart (on CUDA when a GPU is visible, on the CPU otherwise).
#   bash scripts/setup.sh [--libtorch auto|python|system|DIR] [--python PY] [--cuda-arch auto|80;90]
#                         [--deps-dir DIR] [--no-install] [--cpu] [--no-run] [--build-dir DIR]
#   --libtorch: auto (default: the torch of a Python on PATH or of the active conda env, else the distribution's
#               libtorch-dev), python, system, or the folder of a libtorch zip from pytorch.org unpacked
#   --python:   which Python's torch (default: $CONDA_PREFIX/bin/python, python3, python)
#   --cuda-arch: GPU architectures of kvbench's kernels (default: the GPUs visible, else torch's list)
#   --deps-dir: .deb files fetched elsewhere, for a machine without network (docs/offline-build.md)
#   --no-install: never call apt-get (report what is missing)
#   --cpu:      run the quickstart on the CPU even where a GPU is visible;  --no-run: build only
set -euo pipefail
cd "$(dirname "$0")/.."
libtorch=auto python="" cuda_arch=auto deps=() run=1 cpu=0 build_dir=build
while [ $# -gt 0 ]; do
  case "$1" in
    --libtorch) libtorch=${2:?--libtorch needs auto, python, system or a folder}; shift ;;
    --python) python=${2:?--python needs an interpreter}; shift ;;
    --cuda-arch) cuda_arch=${2:?--cuda-arch needs auto or a list such as 80;90}; shift ;;
    --deps-dir) deps+=(--deps-dir "${2:?--deps-dir needs a folder}"); shift ;;
    --no-install) deps+=(--no-install) ;;
    --cpu) cpu=1 ;;
    --no-run) run=0 ;;
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
  esac
  shift
done

source scripts/libtorch.sh
kvbench_find_libtorch "$libtorch" "$python"
[ "$LIBTORCH_KIND" = system ] || deps+=(--no-libtorch)
echo "== dependencies"
bash scripts/deps.sh "${deps[@]}"

echo "== build (libtorch $LIBTORCH_VERSION, $LIBTORCH_KIND)"
# The libtorch chosen above, whatever it was called with (a folder given relative to here stays right).
case "$libtorch" in auto|python|system) ;; *) libtorch=$(cd "$libtorch" && pwd) ;; esac
LIBTORCH=$libtorch PYTHON=${LIBTORCH_PYTHON:-$python} BUILD_DIR=$build_dir KVBENCH_CUDA_ARCHITECTURES=$cuda_arch \
  KVBENCH_BUILD_TESTS=${KVBENCH_BUILD_TESTS:-OFF} bash scripts/build.sh
"$build_dir/kvbench" --version

[ $run = 1 ] || exit 0
# The quickstart's outputs are disposable (a real run refuses to overwrite its folder): a second setup reruns it.
rm -rf results/quickstart
if [ $cpu = 0 ] && "$build_dir/kvbench" --version | grep -q "^CUDA: usable"; then
  echo "== quickstart on CUDA (kvbench run --set model.device=cuda)"
  "$build_dir/kvbench" run --set model.device=cuda
else
  echo "== quickstart on the CPU (kvbench run)"
  "$build_dir/kvbench" run
fi
echo "next: bash scripts/test.sh (the tests); README's 'Reproduce a paper table' for a LongBench run"
