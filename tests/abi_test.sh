#!/usr/bin/env bash
# Every torch-free library and a small program using them, compiled with the old libstdc++ ABI
# (-D_GLIBCXX_USE_CXX11_ABI=0, the ABI of PyTorch wheels before 2.7): they must link (no ABI-sensitive symbol
# left undefined), run, hold no symbol of the new ABI, and the configure summary must name the ABI of each target.
#   tests/abi_test.sh SOURCE_DIR MAIN_BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 main_build=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$work/build" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DKVBENCH_TORCH_FREE_ONLY=ON -DKVBENCH_CXX11_ABI=0 -DKVBENCH_BUILD_TESTS=OFF >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
libs=(kvbench_common kvbench_tokenizer kvbench_datasets kvbench_metrics kvbench_report)
for t in "${libs[@]}" kvbench_abi_probe; do
  grep -q -- "ABI $t: _GLIBCXX_USE_CXX11_ABI=0 (set)" "$work/configure.log" ||
    { echo "FAIL: the configure summary does not give $t the old ABI"; cat "$work/configure.log"; exit 1; }
done
grep -q -- "ABI kvbench_spm: _GLIBCXX_USE_CXX11_ABI=1 (the compiler's default" "$work/configure.log" ||
  { echo "FAIL: the summary does not give the SentencePiece bridge the system's ABI"; exit 1; }
cmake --build "$work/build" --target kvbench_abi_probe --parallel "$(nproc)" >"$work/build.log" 2>&1 ||
  { grep -E "error|undefined" "$work/build.log" | head -40; exit 1; }
# The new ABI's types live in std::__cxx11: none may appear, defined or referenced, in what was built.
archives=()
for l in "${libs[@]}"; do archives+=("$work/build/lib$l.a"); done
leaks=$(nm -C "${archives[@]}" "$work/build/kvbench_abi_probe" 2>/dev/null | grep -c "__cxx11" || true)
[ "$leaks" -eq 0 ] || { echo "FAIL: $leaks symbols of the new ABI in the old-ABI build"; exit 1; }
# Control: the same check finds them in the main (new-ABI) build, so it can fail.
if [ -f "$main_build/libkvbench_common.a" ] &&
   grep -q "KVBENCH_BUILD_CXX11_ABI 1" "$main_build/generated/kvbench/build_info.h" 2>/dev/null; then
  ctrl=$(nm -C "$main_build/libkvbench_common.a" | grep -c "__cxx11" || true)
  [ "$ctrl" -gt 0 ] || { echo "FAIL: the control found no new-ABI symbol in the main build"; exit 1; }
fi
out=$("$work/build/kvbench_abi_probe" "$src/models/kvbench-demo" "$src/tests/data/ci/demo-baseline-report.json")
echo "$out" | head -3
echo "$out" | grep -q "^qa_f1 0.8$" || { echo "FAIL: qa_f1('fox jumped high', 'a fox jumped') is not 0.8 (P 2/3, R 1)"; exit 1; }
echo "$out" | grep -q "^tokens " || { echo "FAIL: no prompt built"; exit 1; }
echo "PASS: torch-free libraries and the probe built, linked and ran with _GLIBCXX_USE_CXX11_ABI=0"
