#!/usr/bin/env bash
# Issue 29's process-level promises (docs/robustness.md), on a real kvbench process, one step per class of defect:
#   special files   a FIFO or a device as any input is refused at once (no hang), naming what it is; an output
#                   that names a device or a FIFO is refused and the special file stays what it was; an output
#                   that is one of the command's inputs is refused and the input unchanged
#   JSON            deep nesting and repeated keys are one clear error (no crash)
#   numbers         budgets, byte sizes and rope parameters out of range are errors, not wrapped or NaN
#   empty strings   an empty path or name is an error, not the default
#   one owner       a second run, resume or merge on a run folder is refused with the holder's pid
#   resume          an edited config is refused naming the key; the first config.resolved.json stays
#   vanishing       a run whose folder is deleted stops with an error
#   damaged folder  --resume over a file where a folder belongs (or a manifest of the wrong shape) is an error
#   merge           files of the user's in the merged folder stay
#   resources       a sweep of 150 variants under `ulimit -n 64`; stale temporaries of a killed writer removed
#   long steps      a long line is refused with its line number; ROUGE on 3,000 sentences is quick and exact;
#                   SIGTERM during a long prefill ends the run within seconds
#   tests/hostile_test.sh KVBENCH SOURCE_DIR
set -uo pipefail
kvbench=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
demo_tokenizer=$2/models/kvbench-demo/tokenizer.model
tmp=$(mktemp -d)
bg=()
trap 'for p in "${bg[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/process_test_lib.sh"  # fail, step, wait_rows
# refused CMD... : runs kvbench (at most 20 s) and expects a clean error; $out holds its stderr.
refused() {
  timeout 20 "$kvbench" --log-level error "$@" > "$tmp/stdout" 2> "$tmp/stderr"
  rc=$?
  out=$(cat "$tmp/stderr")
  [ $rc != 124 ] || fail "hung (killed after 20 s): kvbench $*"
  [ $rc != 0 ] || fail "exit 0: kvbench $*"
  [ $rc -lt 128 ] || fail "crashed (exit $rc): kvbench $*: $out"
  case "$out" in error:*) ;; *) fail "not one 'error:' line: kvbench $*: $out" ;; esac
}
expect() { case "$out" in *"$1"*) ;; *) fail "expected '$1' in: $out" ;; esac; }
config() {  # config NAME OUTPUT_DIR [COUNT] [EXTRA JSON]
  cat > "$tmp/$1.json" <<JSON
{"name": "$1", "output_dir": "$2",
 "model": {"path": "$tmp/m", "device": "cpu", "dtype": "f32"},
 "prompt": {"random_ids": {"tokens": 192, "seed": 3, "count": ${3:-40}}},
 "max_new_tokens": 12 ${4:-},
 "policies": [{"name": "full"}, {"name": "streaming", "budget": 48}, {"name": "snapkv", "budget": 64}]}
JSON
}
"$kvbench" make-tiny --out "$tmp/m" --layers 2 --hidden 64 --heads 4 --kv-heads 2 --vocab 512 > /dev/null 2>&1 ||
  fail "make-tiny"
printf '{"pred": "a b", "answers": ["a b"], "all_classes": null, "length": 3}\n' > "$tmp/p.jsonl"

step "special files as inputs: refused at once, saying what they are"
mkfifo "$tmp/fifo.json" "$tmp/fifo.jsonl"
mkdir -p "$tmp/fifomodel" "$tmp/fifodata" "$tmp/fifotok"
cp "$tmp/m/config.json" "$tmp/fifomodel/"; mkfifo "$tmp/fifomodel/model.safetensors"
mkfifo "$tmp/fifodata/trec.jsonl" "$tmp/fifotok/tokenizer.json"
refused run --config "$tmp/fifo.json"; expect "FIFO"
refused model-info --model "$tmp/fifomodel" --json; expect "FIFO"
refused generate --model "$tmp/fifomodel" --prompt-ids 1,2,3 --max-new 2; expect "FIFO"
refused tokenize --tokenizer "$tmp/fifotok" --text hi; expect "FIFO"
refused score --pred "$tmp/fifo.jsonl" --dataset trec; expect "FIFO"
refused table --report "$tmp/fifo.json"; expect "FIFO"
refused prompts --dataset trec --data-dir "$tmp/fifodata" --tokenizer "$demo_tokenizer"; expect "FIFO"
refused tokenize --tokenizer /dev/null --text hi; expect "character device"
refused data longbench --from "$tmp/fifo.json" --dir "$tmp/lbdir"; expect "FIFO"
refused slurm --config "$tmp/fifo.json" --dry-run; expect "FIFO"
mkdir -p "$tmp/fifochat"; cp "$tmp/m/config.json" "$tmp/fifochat/"; mkfifo "$tmp/fifochat/chat_template.jinja"
refused model-info --model "$tmp/fifochat" --config-only; expect "FIFO"
refused run --config /dev/zero; expect "character device"
refused run --config "$tmp"; expect "folder"
refused model-info --model "$tmp/p.jsonl"; expect "not a folder"

step "special files and inputs as outputs: refused, and left as they were"
refused score --pred "$tmp/p.jsonl" --dataset narrativeqa --per-sample /dev/full; expect "character device"
[ -c /dev/full ] || fail "/dev/full is no longer a character device"
refused score --pred "$tmp/p.jsonl" --dataset narrativeqa --per-sample "$tmp/fifo.jsonl"; expect "FIFO"
[ -p "$tmp/fifo.jsonl" ] || fail "the FIFO was replaced"
cp "$tmp/p.jsonl" "$tmp/p.orig"
refused score --pred "$tmp/p.jsonl" --dataset narrativeqa --per-sample "$tmp/p.jsonl"; expect "one of this command's inputs"
cmp -s "$tmp/p.jsonl" "$tmp/p.orig" || fail "score --per-sample replaced its --pred file"
cp "$tmp/m/model.safetensors" "$tmp/weights.orig"
refused generate --model "$tmp/m" --prompt-ids 1,2,3 --max-new 2 --logits-out "$tmp/m/model.safetensors"
expect "one of this command's inputs"
cmp -s "$tmp/m/model.safetensors" "$tmp/weights.orig" || fail "generate --logits-out replaced the weights"
refused generate --model "$tmp/m" --prompt-ids 1,2,3 --max-new 2 --logits-out /dev/full; expect "character device"
"$kvbench" score --pred "$tmp/p.jsonl" --dataset narrativeqa > /dev/full 2> "$tmp/stderr" && fail "stdout on /dev/full: exit 0"
grep -q "error: cannot write to the standard output" "$tmp/stderr" || fail "stdout on /dev/full: $(cat "$tmp/stderr")"

step "JSON: deep nesting and repeated keys are clean errors"
python3 -c "
import sys; d=100000
open(sys.argv[1],'w').write('{\"model\": {\"path\": \"m\"}, \"prompt\": {\"ids\": [1]}, \"policies\": [{\"name\": \"full\"}], \"seed\": ' + '['*d + '1' + ']'*d + '}')
" "$tmp/deep.json"
refused run --config "$tmp/deep.json"; expect "nested deeper than 64 levels"
refused run --dry-run --config "$tmp/deep.json" --set "seed=$(python3 -c 'print("["*5000+"]"*5000)')"
expect "nested deeper than 64 levels"
config dup "$tmp/dup" 2 ', "max_new_tokens": 16'
refused run --dry-run --config "$tmp/dup.json"; expect "key 'max_new_tokens' appears twice"

step "numbers out of range are errors"
config num "$tmp/num" 2
refused run --dry-run --config "$tmp/num.json" --set 'policies=[{"name": "snapkv", "budget": 9223372036854775807}]'
expect "a token budget must be between 1 and"
refused run --dry-run --config "$tmp/num.json" --set 'policies=[{"name": "snapkv", "budget": {"kv_bytes": "inf"}}]'
expect "is not a byte size"
refused run --dry-run --config "$tmp/num.json" --set 'policies=[{"name": "snapkv", "budget": {"kv_bytes": 1e300}}]'
expect "kv_bytes must be at most"
refused generate --model "$tmp/m" --prompt-ids 1,2,3 --policy snapkv --kv-bytes 1e400B; expect "out of range"
refused generate --model "$tmp/m" --prompt-ids 1,2,3 --policy snapkv --budget 9223372036854775807
expect "a token budget must be at most 16777216"
refused run --dry-run --config "$tmp/num.json" --set seed=18446744073709551615; expect "'seed' must be between 0 and"
refused run --dry-run --config "$tmp/num.json" \
  --set 'policies=[{"name": "snapkv", "budget": {"max_capacity_prompt": 18446744073709551615}}]'
expect "max_capacity_prompt (tokens per head) must be between 1 and 16777216"
refused run --dry-run --config "$tmp/num.json" --set 'policies=[{"name": "snapkv", "budget": {"compression_ratio": 1e308}}]'
expect "compression ratio must be in [0, 1)"
refused slurm --config "$tmp/num.json" --dry-run --setup-file "$tmp/fifo.jsonl"; expect "FIFO"
refused run --dry-run --config "$tmp/num.json" --set model.max_length=1; expect "model.max_length must be between 2"
refused run --dry-run --config "$tmp/num.json" --set coverage_window=500; expect "coverage_window (500) must be shorter"
mkdir -p "$tmp/rope"; sed 's/"rope_theta": [0-9.e+]*/"rope_theta": 1e-300/' "$tmp/m/config.json" > "$tmp/rope/config.json"
grep -q '1e-300' "$tmp/rope/config.json" || fail "could not write the rope_theta probe"
refused model-info --model "$tmp/rope"; expect "rope_theta must be at least 1"

step "empty strings are errors, not defaults"
refused run --config ""; expect "must not be empty"
refused run --config "$tmp/num.json" --shard ""; expect "must not be empty"
refused run --dry-run --config "$tmp/num.json" --set 'output_dir=""'; expect "'output_dir' must not be empty"

step "one process per run folder: a second run or resume is refused with the holder's pid"
config own "$tmp/own" 40
# Two runs started 0.3 s apart: one runs, the other is refused (by the lock, or by the folder it finds taken).
"$kvbench" run --log-level warn --config "$tmp/own.json" > /dev/null 2> "$tmp/own1.err" & p1=$!; bg+=($p1)
sleep 0.3
"$kvbench" run --log-level warn --config "$tmp/own.json" > /dev/null 2> "$tmp/own2.err" & p2=$!; bg+=($p2)
wait_rows "$tmp/own/predictions/full/prompt.jsonl" 1
holder=$(sed -n 's/^pid \([0-9]*\) .*/\1/p' "$tmp/own/kvbench.lock")
[ "$holder" = $p1 ] || [ "$holder" = $p2 ] || fail "the lock names pid '$holder', neither run ($p1, $p2)"
refused run --config "$tmp/own.json" --resume; expect "in use by another kvbench process (pid $holder"
wait $p1; rc1=$?; wait $p2; rc2=$?
[ $((rc1 + rc2)) = 1 ] || fail "two runs on one folder: exits $rc1 and $rc2, expected one 0 and one 1"
grep -qh "error: .*\(in use by another kvbench process (pid $holder\|already holds a run\)" "$tmp/own1.err" "$tmp/own2.err" ||
  fail "the refused run does not say why: $(cat "$tmp/own1.err" "$tmp/own2.err")"
[ "$(cat "$tmp"/own/predictions/*/prompt.jsonl | wc -l)" = 120 ] || fail "not 120 rows after two runs on one folder"
[ -z "$(cat "$tmp"/own/predictions/*/prompt.jsonl | sort | uniq -d)" ] || fail "duplicate rows"

step "resume of an edited config: refused naming the key; the first config.resolved.json stays"
cp "$tmp/own/config.resolved.json" "$tmp/resolved.orig"
refused run --config "$tmp/own.json" --resume --set max_new_tokens=16; expect "in 'max_new_tokens'"
refused run --config "$tmp/own.json" --resume --set prompt.random_ids.seed=4; expect "in 'prompt.random_ids.seed'"
refused run --config "$tmp/own.json" --resume --set 'policies=[{"name": "full"}]'; expect "in 'policies"
# What a policy computes (issue 32's reference code base, granularity, budget definition) is never safe to change.
policy_set() { echo "policies=[{\"name\": \"full\"}, {\"name\": \"streaming\", \"budget\": 48}, {\"name\": \"snapkv\", $1}]"; }
refused run --config "$tmp/own.json" --resume --set "$(policy_set '"budget": 64, "reference": "kvpress"')"
expect "in 'policies[2].reference'"
refused run --config "$tmp/own.json" --resume --set "$(policy_set '"budget": 64, "params": {"granularity": "query_head"}')"
expect "in 'policies[2].params'"
refused run --config "$tmp/own.json" --resume --set "$(policy_set '"budget": {"max_capacity_prompt": 64}')"
expect "in 'policies[2].budget'"
refused run --config "$tmp/own.json" --resume --set "$(policy_set '"budget": {"compression_ratio": 0.5}')"
expect "in 'policies[2].budget'"
cmp -s "$tmp/own/config.resolved.json" "$tmp/resolved.orig" || fail "config.resolved.json was rewritten"
timeout 60 "$kvbench" run --log-level error --config "$tmp/own.json" --resume --set model.batch_decode=on > /dev/null ||
  fail "a resume changing only a safe key (model.batch_decode) was refused"
refused table --report "$tmp/own/report.json" --paper "$tmp/fifo.jsonl"; expect "FIFO"

step "damaged run folder: --resume refuses clearly (no crash)"
config dmg "$tmp/dmg" 2
"$kvbench" run --log-level error --config "$tmp/dmg.json" > /dev/null || fail "dmg run"
mv "$tmp/dmg/predictions/full" "$tmp/full.dir"; echo x > "$tmp/dmg/predictions/full"
refused run --config "$tmp/dmg.json" --resume; expect "predictions/full' is a regular file where a run keeps a folder"
rm "$tmp/dmg/predictions/full"; mv "$tmp/full.dir" "$tmp/dmg/predictions/full"
cp "$tmp/dmg/manifest.json" "$tmp/manifest.orig"; echo '{"sessions": 3}' > "$tmp/dmg/manifest.json"
refused run --config "$tmp/dmg.json" --resume; expect "manifest.json: 'sessions' must be a list"
cp "$tmp/manifest.orig" "$tmp/dmg/manifest.json"

step "stale temporaries of a killed writer are removed by the next run"
sleep 0.1 & dead=$!; wait $dead   # a pid that no longer runs
touch "$tmp/dmg/report.json.tmp.$dead" "$tmp/dmg/manifest.json.tmp.$dead.$(hostname)"
"$kvbench" run --log-level error --config "$tmp/dmg.json" --resume > /dev/null || fail "resume after restoring"
[ -z "$(ls "$tmp/dmg" | grep '\.tmp\.')" ] || fail "stale temporaries left: $(ls "$tmp/dmg")"

step "a run whose folder is deleted stops with an error"
config gone "$tmp/gone" 40
"$kvbench" run --log-level warn --config "$tmp/gone.json" > /dev/null 2> "$tmp/gone.err" & pid=$!; bg+=($pid)
wait_rows "$tmp/gone/predictions/full/prompt.jsonl" 2
rm -rf "$tmp/gone"
wait $pid; rc=$?
[ $rc = 1 ] || fail "deleted folder: exit $rc, expected 1: $(tail -3 "$tmp/gone.err")"
grep -q "error: .*was removed or replaced" "$tmp/gone.err" || fail "deleted folder: no clear error: $(tail -3 "$tmp/gone.err")"
[ ! -e "$tmp/gone/report.json" ] || fail "deleted folder: a report was written anyway"

step "merge writes only its own files, and refuses a shard that is being written"
config sh "$tmp/sh" 6
for s in 0 1; do "$kvbench" run --log-level error --config "$tmp/sh.json" --shard $s/2 > /dev/null 2>&1 || fail "shard $s"; done
mkdir -p "$tmp/merged/timing"; echo keep > "$tmp/merged/timing/notes.csv"; echo keep > "$tmp/merged/mine.txt"
"$kvbench" merge "$tmp/sh/shards/0-of-2" "$tmp/sh/shards/1-of-2" --out "$tmp/merged" > /dev/null || fail "merge"
"$kvbench" merge "$tmp/sh/shards/0-of-2" "$tmp/sh/shards/1-of-2" --out "$tmp/merged" > /dev/null || fail "second merge"
[ -f "$tmp/merged/timing/notes.csv" ] && [ -f "$tmp/merged/mine.txt" ] || fail "merge deleted the user's files"
[ "$(cat "$tmp"/merged/predictions/*/prompt.jsonl | wc -l)" = 18 ] || fail "merged rows"
refused merge "$tmp/sh/shards/0-of-2" "$tmp/sh/shards/1-of-2" --out "$tmp/sh/shards/0-of-2"; expect "one of the shards"
if command -v flock > /dev/null; then  # a shard whose folder another process holds (as a shard still running would)
  flock "$tmp/sh/shards/1-of-2/kvbench.lock" sleep 30 & holder=$!; bg+=($holder)
  sleep 0.5
  refused merge "$tmp/sh/shards/0-of-2" "$tmp/sh/shards/1-of-2" --out "$tmp/merged"; expect "1-of-2' is in use by another"
  kill $holder 2>/dev/null
fi

step "open files stay bounded: 150 variants under ulimit -n 64"
config wide "$tmp/wide" 2 ', "budgets": ['"$(seq -s, 16 165)"']'
sed -i 's/"policies": .*/"policies": [{"name": "streaming"}]}/' "$tmp/wide.json"
( ulimit -n 64; exec timeout 300 "$kvbench" run --log-level error --config "$tmp/wide.json" --set model.batch_decode=on ) \
  > /dev/null 2> "$tmp/wide.err" || fail "150 variants under ulimit -n 64: $(tail -3 "$tmp/wide.err")"
[ "$(ls "$tmp/wide/predictions" | wc -l)" = 150 ] || fail "150 variants: $(ls "$tmp/wide/predictions" | wc -l) folders"

step "long steps: a long line is refused with its number; ROUGE on 3,000 sentences is quick and exact"
mkdir -p "$tmp/long"
python3 - "$tmp/long/narrativeqa.jsonl" <<'PY'
import json, sys
ok = {"input": "q", "context": "c", "answers": ["a"], "length": 1, "dataset": "narrativeqa", "language": "en", "all_classes": None}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps(dict(ok, _id="a")) + "\n")
    f.write(json.dumps(dict(ok, _id="b", context="x " * (10 << 20))) + "\n")
PY
refused prompts --dataset narrativeqa --data-dir "$tmp/long" --tokenizer "$demo_tokenizer"
expect "narrativeqa.jsonl:2: a line longer than 4.0 MiB"
python3 - "$tmp/rouge.jsonl" <<'PY'
import json, random, sys
random.seed(1)
words = ["w%d" % i for i in range(5000)]
def text(n): return " ".join(" ".join(random.choice(words) for _ in range(8)) + "." for _ in range(n))
same = text(3000)
rows = [{"pred": same, "answers": [same]}, {"pred": text(3000), "answers": [text(3000)]}]
with open(sys.argv[1], "w") as f:
    for r in rows: f.write(json.dumps(dict(r, all_classes=None, length=1)) + "\n")
PY
start=$(date +%s)
timeout 120 "$kvbench" score --pred "$tmp/rouge.jsonl" --dataset gov_report --per-sample "$tmp/rouge.scores" > "$tmp/rouge.out" ||
  fail "ROUGE on 3,000 sentences: $(cat "$tmp/rouge.out")"
[ $(( $(date +%s) - start )) -lt 60 ] || fail "ROUGE on 3,000 sentences took $(( $(date +%s) - start )) s"
head -1 "$tmp/rouge.scores" | grep -q '"score": 0.9999999' || fail "ROUGE of a text against itself: $(head -1 "$tmp/rouge.scores")"

step "SIGTERM during a long prefill ends the run within seconds"
cat > "$tmp/slow.json" <<JSON
{"name": "slow", "output_dir": "$tmp/slow",
 "model": {"random": {"family": "llama", "layers": 4, "hidden": 256, "heads": 4, "kv_heads": 4, "vocab": 512}, "device": "cpu", "dtype": "f32"},
 "prompt": {"random_ids": {"tokens": 16000, "seed": 3, "count": 2}}, "max_new_tokens": 4, "policies": [{"name": "full"}]}
JSON
"$kvbench" run --log-level info --config "$tmp/slow.json" > /dev/null 2> "$tmp/slow.err" & pid=$!; bg+=($pid)
# "loaded ..." comes right before the sample loop (no warm-up): two seconds later the first prefill is under way.
for _ in $(seq 1 600); do grep -q "\] loaded " "$tmp/slow.err" 2>/dev/null && break; sleep 0.1; done
grep -q "\] loaded " "$tmp/slow.err" || fail "the long run did not load its model: $(tail -3 "$tmp/slow.err")"
sleep 2
kill -TERM $pid; t0=$(date +%s)
wait $pid; rc=$?
[ $rc = 143 ] || fail "SIGTERM in a long prefill: exit $rc, expected 143: $(tail -3 "$tmp/slow.err")"
[ $(( $(date +%s) - t0 )) -le 15 ] || fail "SIGTERM in a long prefill: $(( $(date +%s) - t0 )) s to stop"
grep -q "interrupted by SIGTERM after 0 of 2 samples" "$tmp/slow.err" || fail "SIGTERM in a long prefill: not saved and
  reported through the handler: $(tail -3 "$tmp/slow.err")"
grep -q '"interrupted_by": "SIGTERM"' "$tmp/slow/manifest.json" || fail "SIGTERM in a long prefill: manifest"
echo "all hostile-input checks passed"
