#!/usr/bin/env bash
# Issue 33's promises for many samples in flight (model.samples_in_flight), on a real kvbench process, CPU:
#   exactness   prompts of 16 lengths, each decoding its subset's max new tokens, four variants (a ragged one
#               among them): with 4 samples in flight on the ragged path the prediction files are byte for byte
#               those of one sample at a time on the reference path (same rows, same order);
#   memory      a budget too small for two samples admits one at a time and completes, with the same files;
#   SIGKILL     kill -9 with samples in flight, then --resume: the same files byte for byte;
#   real stops  the demo model's CI regression with samples in flight equals its committed baseline (tolerance 0).
#   tests/in_flight_test.sh KVBENCH SOURCE_DIR
set -uo pipefail
kvbench=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
step() { echo "== $*"; }

config() {  # config NAME IN_FLIGHT DECODE_PATH [MEMORY]
  cat > "$tmp/$1.json" <<JSON
{"name": "$1", "output_dir": "$tmp/$1",
 "model": {"random": {"family": "llama", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "vocab": 256, "seed": 4},
           "device": "cpu", "dtype": "f32", "decode": "$3", "samples_in_flight": $2, "in_flight_memory": ${4:-\"auto\"}},
 "prompt": {"random_ids": {"shape": "longbench16", "per_subset": 1, "tokens_per_word": 0.008, "seed": 5}},
 "policies": [{"name": "full"}, {"name": "snapkv", "budget": 24}, {"name": "adakv", "budget": 24},
              {"name": "streaming", "budget": 16}]}
JSON
}
# Every prediction file of a run, compared byte for byte with the reference's.
same_files() {  # same_files RUN WHAT
  local n=0
  for f in "$tmp/ref"/predictions/*/*.jsonl; do
    local rel=${f#"$tmp/ref/"}
    cmp -s "$f" "$tmp/$1/$rel" || fail "$2: $rel differs from one sample at a time"
    n=$((n + 1))
  done
  [ $n = 4 ] || fail "$2: $n prediction files, expected 4"
}
most_in_flight() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sessions'][0]['samples_in_flight'].get('most_samples_in_flight', 1))" "$tmp/$1/manifest.json"; }

step "reference: one sample at a time on the reference path"
config ref 1 reference
"$kvbench" run --log-level warn --config "$tmp/ref.json" > "$tmp/ref.log" 2>&1 || fail "reference run: $(tail -5 "$tmp/ref.log")"
[ "$(cat "$tmp/ref"/predictions/*/*.jsonl | wc -l)" = 64 ] || fail "the reference run has not 64 rows"

step "4 samples in flight on the ragged path: the same files"
config fly 4 ragged
"$kvbench" run --log-level warn --config "$tmp/fly.json" > "$tmp/fly.log" 2>&1 || fail "in-flight run: $(tail -5 "$tmp/fly.log")"
same_files fly "in flight"
[ "$(most_in_flight fly)" = 4 ] || fail "in flight: at most $(most_in_flight fly) samples were in flight, expected 4"

step "a memory budget too small for two samples: one at a time, same files"
config small 4 ragged 1048576
"$kvbench" run --log-level warn --config "$tmp/small.json" > "$tmp/small.log" 2>&1 || fail "small budget: $(tail -5 "$tmp/small.log")"
same_files small "small budget"
[ "$(most_in_flight small)" = 1 ] || fail "small budget: $(most_in_flight small) samples in flight, expected 1"

step "SIGKILL with samples in flight, then --resume: the same files"
config kill 4 ragged
"$kvbench" run --log-level warn --config "$tmp/kill.json" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  [ -f "$tmp/kill/predictions/full/prompt.jsonl" ] && [ "$(wc -l < "$tmp/kill/predictions/full/prompt.jsonl")" -ge 5 ] && break
  sleep 0.05
done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
rows=$(wc -l < "$tmp/kill/predictions/full/prompt.jsonl")
[ "$rows" -lt 16 ] || fail "SIGKILL: the run had finished before the kill ($rows rows); the test proves nothing"
"$kvbench" run --log-level warn --config "$tmp/kill.json" --resume > "$tmp/kill.log" 2>&1 || fail "SIGKILL: --resume failed: $(tail -5 "$tmp/kill.log")"
same_files kill "SIGKILL and --resume"

step "the demo model's score regression with samples in flight (real stop tokens), tolerance 0"
"$kvbench" run --log-level warn --config "$src/tests/data/ci/demo-regression.json" --output-dir "$tmp/demo" \
  --set model.decode=ragged --set model.samples_in_flight=6 > "$tmp/demo.log" 2>&1 || fail "demo run: $(tail -5 "$tmp/demo.log")"
"$kvbench" check --report "$tmp/demo/report.json" --baseline "$src/tests/data/ci/demo-baseline-report.json" --tol 0 \
  || fail "the demo regression differs from its baseline with samples in flight"
[ "$(most_in_flight demo)" -gt 1 ] || fail "demo: no samples were in flight together"
step "bench --workload longbench16 with samples in flight, and with the model's end-of-sequence token"
"$kvbench" --log-level warn bench --model "$tmp/ref/model" --workload longbench16 --per-subset 3 --samples-in-flight 3 \
  --decode-path ragged --max-length 48 --tokens-per-word 0.004 --policy full --policy snapkv --budget 16 --warmup 0 \
  --json > "$tmp/bench.json" 2> "$tmp/bench.err" || fail "bench in flight: $(tail -3 "$tmp/bench.err")"
python3 - "$tmp/bench.json" <<'PY' || fail "bench in flight: bad report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["samples_in_flight"] == 3 and r["estimated_hours"] > 0, r
assert max(s["most_sequences_in_flight"] for s in r["subsets"]) == 6, [s["most_sequences_in_flight"] for s in r["subsets"]]
PY
"$kvbench" --log-level warn bench --model "$tmp/ref/model" --workload longbench16 --per-subset 2 --samples-in-flight 2 \
  --decode-path ragged --max-length 48 --tokens-per-word 0.004 --policy full --warmup 0 --stop-at-eos \
  --json > "$tmp/eos.json" 2> "$tmp/eos.err" || fail "bench --stop-at-eos: $(tail -3 "$tmp/eos.err")"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['stop_ids'] == [2], r['stop_ids']" "$tmp/eos.json" \
  || fail "bench --stop-at-eos: the report does not name the model's end-of-sequence id"
echo "all in-flight checks passed"
