#!/usr/bin/env bash
# Issue 16's process-level promises, on a real kvbench process and its files:
#   disk full      a write that fails (file-size limit, as a full disk would) ends the run with the path named,
#                  exit != 0, and leaves the last good report.json intact;
#   SIGINT         stops after the sample in flight, exits 130, prints how to resume; --resume then ends with
#                  exactly the predictions of an uninterrupted run;
#   SIGKILL        loses at most the sample in flight: --resume again ends with the uninterrupted predictions;
#   SIGTERM        to a --devices parent reaches its workers, which save and stop; --resume completes the merge;
#   low memory     under `ulimit -v` a run that cannot fit exits promptly (no hang) with a clear message.
#   tests/robustness_test.sh KVBENCH
set -uo pipefail
kvbench=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/process_test_lib.sh"  # fail, step, wait_rows

# A tiny random model, 40 raw prompts, three variants: each sample takes a fraction of a second.
config() {  # config NAME OUTPUT_DIR [COUNT]
  cat > "$tmp/$1.json" <<JSON
{"name": "$1", "output_dir": "$2",
 "model": {"random": {"family": "llama", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "vocab": 512, "seed": 0},
           "device": "cpu", "dtype": "f32"},
 "prompt": {"random_ids": {"tokens": 192, "seed": 3, "count": ${3:-40}}},
 "max_new_tokens": 12,
 "policies": [{"name": "full"}, {"name": "streaming", "budget": 48}, {"name": "snapkv", "budget": 64}]}
JSON
}
# The prediction rows of a run, sorted (row order may differ between a resumed and an uninterrupted run).
rows() { cat "$1"/predictions/*/prompt.jsonl | sort; }

step "reference: an uninterrupted run"
config ref "$tmp/ref"
"$kvbench" run --log-level warn --config "$tmp/ref.json" > "$tmp/ref.log" 2>&1 || fail "reference run: $(tail -5 "$tmp/ref.log")"
[ "$(rows "$tmp/ref" | wc -l)" = 120 ] || fail "reference run has $(rows "$tmp/ref" | wc -l) rows, expected 120"

step "SIGINT: stop after the sample in flight, say how to resume, then --resume equals the reference"
config int "$tmp/int"
"$kvbench" run --log-level warn --config "$tmp/int.json" > "$tmp/int.out" 2> "$tmp/int.err" &
pid=$!
wait_rows "$tmp/int/predictions/full/prompt.jsonl" 3
kill -INT $pid
wait $pid; rc=$?
[ $rc = 130 ] || fail "SIGINT: exit $rc, expected 130; $(tail -5 "$tmp/int.err")"
grep -q "interrupted by SIGINT after [0-9]* of 40 samples" "$tmp/int.err" || fail "SIGINT: no summary: $(tail -3 "$tmp/int.err")"
grep -q -- "resume with: .*--resume" "$tmp/int.err" || fail "SIGINT: no resume command"
python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$tmp/int/report.json" || fail "SIGINT: no valid report"
grep -q '"interrupted_by": "SIGINT"' "$tmp/int/manifest.json" || fail "SIGINT: manifest does not say so"
done_rows=$(rows "$tmp/int" | wc -l)
[ "$done_rows" -lt 120 ] && [ $((done_rows % 3)) = 0 ] || fail "SIGINT: $done_rows rows (expected whole samples, not all)"
"$kvbench" run --log-level warn --config "$tmp/int.json" --resume > /dev/null 2>&1 || fail "SIGINT: --resume failed"
diff <(rows "$tmp/ref") <(rows "$tmp/int") > /dev/null || fail "SIGINT: resumed predictions differ from the reference"

step "SIGKILL: at most the sample in flight is lost; --resume equals the reference"
config kill "$tmp/kill"
"$kvbench" run --log-level warn --config "$tmp/kill.json" > /dev/null 2>&1 &
pid=$!
wait_rows "$tmp/kill/predictions/full/prompt.jsonl" 5
kill -KILL $pid
wait $pid 2>/dev/null
"$kvbench" run --log-level warn --config "$tmp/kill.json" --resume > /dev/null 2>&1 || fail "SIGKILL: --resume failed"
diff <(rows "$tmp/ref") <(rows "$tmp/kill") > /dev/null || fail "SIGKILL: resumed predictions differ from the reference"

step "SIGTERM to a --devices parent: the workers save and stop; --resume completes"
config dev "$tmp/dev"
"$kvbench" run --log-level warn --config "$tmp/dev.json" --devices cpu,cpu > /dev/null 2> "$tmp/dev.err" &
pid=$!
# Each worker is paused (SIGSTOP) as soon as it has finished two samples, both watched at once, so that neither
# can finish its whole shard before the signal arrives however the two are scheduled (on a loaded machine one
# worker finished all 20 while the other was still starting, and later while this loop waited for the other).
# The SIGTERM forwarded by the parent waits, pending, until SIGCONT.
stopped=""
for _ in $(seq 1 1200); do
  for s in 0 1; do
    case " $stopped " in *" $s "*) continue ;; esac
    rows_file="$tmp/dev/shards/$s-of-2/predictions/full/prompt.jsonl" pid_file="$tmp/dev/shards/$s-of-2/worker.pid"
    if [ -f "$rows_file" ] && [ -f "$pid_file" ] && [ "$(wc -l < "$rows_file")" -ge 2 ]; then
      kill -STOP "$(cat "$pid_file")"
      stopped="$stopped $s"
      rows=$(wc -l < "$rows_file")
      [ "$rows" -lt 20 ] || fail "SIGTERM: worker $s had finished its shard ($rows rows) before it was paused; the test proves nothing"
    fi
  done
  [ "$(echo $stopped | wc -w)" = 2 ] && break
  sleep 0.05
done
[ "$(echo $stopped | wc -w)" = 2 ] || fail "SIGTERM: the workers did not reach two rows each within 60 s"
kill -TERM $pid
sleep 1   # the parent passes the signal on within 50 ms
for s in 0 1; do kill -CONT "$(cat "$tmp/dev/shards/$s-of-2/worker.pid")"; done
wait $pid; rc=$?
[ $rc = 143 ] || fail "SIGTERM: exit $rc, expected 143; $(tail -5 "$tmp/dev.err")"
grep -q "interrupted by SIGTERM" "$tmp/dev.err" || fail "SIGTERM: no summary: $(tail -3 "$tmp/dev.err")"
for s in 0 1; do
  grep -q '"interrupted_by": "SIGTERM"' "$tmp/dev/shards/$s-of-2/manifest.json" 2>/dev/null ||
    fail "SIGTERM: worker $s did not stop through the handler"
done
"$kvbench" run --log-level warn --config "$tmp/dev.json" --devices cpu,cpu --resume > /dev/null 2>&1 || fail "SIGTERM: --resume failed"
diff <(rows "$tmp/ref") <(rows "$tmp/dev") > /dev/null || fail "SIGTERM: merged predictions differ from the reference"

step "disk full: a failing write names the path, exits != 0, and leaves the last good report intact"
# A checkpoint of its own (not written by the run), so that only the run's files meet the limit.
model_path() { sed -i "s|\"random\": {[^}]*}|\"path\": \"$tmp/ref/model\"|" "$1"; }
# A first session stopped by SIGINT after a few samples (a resume may not change the config, so the run is the
# same 40 samples throughout); its report is the last good one.
config full "$tmp/full" 40
model_path "$tmp/full.json"
"$kvbench" run --log-level warn --config "$tmp/full.json" > /dev/null 2>&1 &
pid=$!
wait_rows "$tmp/full/predictions/full/prompt.jsonl" 3
kill -INT $pid
wait $pid; [ $? = 130 ] || fail "disk full: the first session did not stop on SIGINT"
cp "$tmp/full/report.json" "$tmp/report.good"
size=$(( ($(stat -c %s "$tmp/full/predictions/full/prompt.jsonl") + 1023) / 1024 + 1 ))
( trap '' XFSZ; ulimit -f "$size"; exec "$kvbench" run --log-level warn --config "$tmp/full.json" --resume ) \
  > "$tmp/full.out" 2> "$tmp/full.err"; rc=$?
[ $rc != 0 ] || fail "disk full: exit 0"
grep -q "error: cannot write.*$tmp/full/" "$tmp/full.err" || fail "disk full: the path is not named: $(tail -3 "$tmp/full.err")"
grep -q "File too large" "$tmp/full.err" || fail "disk full: no reason: $(tail -3 "$tmp/full.err")"
cmp -s "$tmp/report.good" "$tmp/full/report.json" || fail "disk full: report.json changed"
# With space again, --resume finishes the run and it equals the reference's first 40 prompts' rows.
"$kvbench" run --log-level warn --config "$tmp/full.json" --resume > /dev/null 2>&1 || fail "disk full: --resume failed"
diff <(rows "$tmp/ref") <(rows "$tmp/full") > /dev/null || fail "disk full: resumed predictions differ from the reference"

if [ "${KVBENCH_SANITIZED:-0}" = 1 ]; then
  # AddressSanitizer reserves terabytes of shadow address space, so no `ulimit -v` leaves it room to start.
  echo "== low memory: skipped under sanitizers (ASan's shadow memory cannot run under ulimit -v)"
  echo "all robustness checks passed"; exit 0
fi
step "low memory: under ulimit -v a run that cannot fit exits promptly with the numbers"
config big "$tmp/big" 1
sed -i 's/"tokens": 192/"tokens": 30000/; s/"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2/"layers": 8, "hidden": 1024, "heads": 8, "kv_heads": 8/' "$tmp/big.json"
start=$(date +%s)
( ulimit -v 2000000; exec timeout 120 "$kvbench" run --log-level warn --config "$tmp/big.json" ) > "$tmp/big.out" 2> "$tmp/big.err"
rc=$?
[ $rc = 1 ] || fail "low memory: exit $rc (expected 1; 124 is a hang): $(tail -3 "$tmp/big.err")"
[ $(( $(date +%s) - start )) -lt 60 ] || fail "low memory: took more than a minute to exit"
grep -q "error: prompt.random_ids.tokens (30000 tokens) needs about .* GiB on cpu, which has .* available" "$tmp/big.err" ||
  fail "low memory: unclear message: $(cat "$tmp/big.err")"
echo "all robustness checks passed"
