#!/usr/bin/env bash
# On the GPU machine: build, then the GPU checks and benchmarks named on the command line, each with its own
# time limit, logs and JSON under OUT (default /tmp/kvbench-gpu). A failing stage is reported and the next
# one still runs; the exit code is the number of failed stages.
#   bash scripts/gpu-check.sh [layouts] [qhead32k] [newpol] [micro] [decode] [hf] [demo] [policy] [lengths] [profile] [lb16] [sweep]
#                             [fixtures] [families] [families-bf16] [windows] [famperf]   (issue 31: model families; fixtures
#                             writes OUT/families/<name>/, to be committed as tests/data/families/)
#                             [study-dev{,-round2}-{4k,8k}] [study-test-4k] [study-test-8k]   (issue 18: scripts/kvec-study.sh;
#                             each run comes back as OUT/study-*.tar.gz)
# (profile and sweep use the 8B checkpoint that lengths or lb16 write first.)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/kvbench-gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
kv=build-gpu/kvbench
t0=$(date +%s)
# The same build a user's GPU machine gets (scripts/build.sh: the pip torch's libtorch, kernels for the GPU
# visible); BUILD_DIR, KVBENCH_CUDA_ARCHITECTURES and LIBTORCH pass through.
if ! BUILD_DIR=build-gpu KVBENCH_BUILD_TESTS=${KVBENCH_BUILD_TESTS:-OFF} bash scripts/build.sh >"$OUT/build.log" 2>&1; then
  grep -E "error|Error" "$OUT/build.log" | head -40; tail -20 "$OUT/build.log"; exit 100
fi
echo "build: $(( $(date +%s) - t0 )) s"
failed=0
stage() {  # stage NAME LIMIT_SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local s=$(date +%s)
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc, $(( $(date +%s) - s )) s"
  tail -n "${TAIL:-25}" "$OUT/$name.log"
  [ $rc -eq 0 ] || failed=$((failed + 1))
}
for s in "$@"; do
  case $s in
    layouts) stage layouts 120 python3 tests/gpu/sdpa_layouts.py --out "$OUT/sdpa_layouts.json" ;;
    qhead32k) stage qhead32k 200 bash -c "KVBENCH_PREFILL_Q_LAYOUT=head $kv --log-level warn bench --model /tmp/pp/llama31_8b \
          --device cuda --prompt-tokens 32768 --samples 3 --new-tokens 2 --policy full --json" ;;
    micro) stage micro 120 python3 tests/gpu/microbench.py --out "$OUT/micro.json" ;;
    decode) stage decode 300 python3 tests/gpu/decode_parity.py --kvbench $kv --workdir /tmp/dp --out "$OUT/decode_parity.json" ;;
    hf) stage hf ${HF_LIMIT:-300} python3 tests/gpu/hf_parity.py --kvbench $kv --workdir /tmp/parity --device cuda --kvbench-device cuda \
          --models "${HF_MODELS:-llama31,qwen2}" --skip-sdpa --out "$OUT/hf_parity.json" ;;
    newpol) stage newpol 480 python3 tests/gpu/policy_parity.py --kvbench $kv --workdir /tmp/pp \
          --policies ${NEW_POLICIES:-expected_attention,criticalkv,criticaladakv,keydiff,lagkv} \
          --cost-policies snapkv,${NEW_POLICIES:-expected_attention,criticalkv,criticaladakv,keydiff,lagkv} --out "$OUT/new_policies.json" ;;
    policy) stage policy 300 python3 tests/gpu/policy_parity.py --kvbench $kv --workdir /tmp/pp --skip-cost --out "$OUT/policy_parity.json" ;;
    demo) stage demo 300 bash -c "rm -rf /tmp/demo-gpu && $kv --log-level warn run --config tests/data/ci/demo-regression.json --output-dir /tmp/demo-gpu --set model.device=cuda && $kv check --report /tmp/demo-gpu/report.json --baseline tests/data/ci/demo-baseline-report.json --tol 0" ;;
    lengths) stage lengths 420 python3 tests/gpu/bench_hf.py --kvbench $kv --workdir /tmp/pp --workload lengths --out "$OUT/bench_lengths.json" ;;
    lb16) stage lb16 420 python3 tests/gpu/bench_hf.py --kvbench $kv --workdir /tmp/pp --workload longbench16 --out "$OUT/bench_lb16.json" ;;
    profile) stage profile 300 bash -c "KVBENCH_PROFILE_POLICIES=1 $kv --log-level warn bench --model /tmp/pp/llama31_8b --device cuda \
          --prompt-tokens 8192,32768 --samples 2 --new-tokens 4 --policy full" ;;
    ckpt) stage ckpt 120 python3 -c "import sys; from pathlib import Path; sys.path.insert(0, 'tests/gpu'); import policy_parity as pp; pp.write_8b_checkpoint(Path('/tmp/pp/llama31_8b'))" ;;
    chunk32k) stage chunk32k 200 python3 tests/gpu/prefill_chunks.py --kvbench $kv --model /tmp/pp/llama31_8b --best-out /tmp/best_chunk ;;
    lengths32k) stage lengths32k 200 python3 tests/gpu/bench_hf.py --kvbench $kv --workdir /tmp/pp --workload lengths --lengths 32768 \
          --kvbench-args "--prefill-chunk $(cat /tmp/best_chunk 2>/dev/null || echo 8192)" --out "$OUT/bench_32k.json" ;;
    study-dev-4k|study-dev-8k|study-dev-round2-4k|study-dev-round2-8k|study-test-4k|study-test-8k) run=${s#study-}
          stage $s 560 bash -c "bash scripts/kvec-study.sh ${run%-*} ${run##*-} $kv /tmp/study && tar czf $OUT/$s.tar.gz -C /tmp/study kvec-$s" ;;
    fixtures) stage fixtures 420 python3 tests/gpu/make_family_fixtures.py --out "$OUT/families" ;;
    families) stage families ${HF_LIMIT:-560} python3 tests/gpu/hf_parity.py --kvbench $kv --workdir /tmp/famparity --device cuda \
          --kvbench-device cuda --models "${FAMILY_MODELS:-families}" --skip-sdpa --out "$OUT/hf_parity_families.json" ;;
    families-bf16) stage families-bf16 ${HF_LIMIT:-560} python3 tests/gpu/hf_parity.py --kvbench $kv --workdir /tmp/famparity --device cuda \
          --kvbench-device cuda --models "${FAMILY_MODELS:-families}" --skip-sdpa --dtype bf16 --out "$OUT/hf_parity_families_bf16.json" ;;
    windows) stage windows 300 python3 tests/gpu/window_parity.py --kvbench $kv --workdir /tmp/winpar ${WINDOW_CASES:+--cases $WINDOW_CASES} \
          --out "$OUT/window_parity.json" ;;
    famperf) stage famperf 580 python3 tests/gpu/bench_families.py --kvbench $kv --workdir /tmp/famperf \
          --families "${PERF_FAMILIES:-qwen3,gemma2}" --layers "${PERF_LAYERS:-0}" --lengths "${PERF_LENGTHS:-8192,32768}" \
          --new-tokens "${PERF_NEW_TOKENS:-64}" --moe-twin "${PERF_MOE_TWIN:-active}" \
          --policies "${PERF_POLICIES:-full,snapkv}" --out "$OUT/bench_families.json" ;;
    sweep) stage sweep 420 python3 tests/gpu/sweep_bench.py --kvbench $kv --workdir /tmp/pp --out "$OUT/sweep.json" ;;
    *) echo "unknown stage $s"; failed=$((failed + 1)) ;;
  esac
done
echo "total: $(( $(date +%s) - t0 )) s, $failed failed stage(s)"
exit $failed
