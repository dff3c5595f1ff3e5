#!/usr/bin/env bash
# Data for the demo model (run HERE, on the CPU machine; the GPU machine trains on what this writes;
# docs/demo-model.md has the whole recipe):
#   1. a SentencePiece BPE tokenizer (2,048 pieces, digits split, byte fallback) trained with Debian's spm_train
#      on generated synthetic samples (the project's own filler text: nothing copyrighted);
#   2. training records, `kvbench synth --train-out` packed as uint16 + xz: every task at 256 (no passage
#      tasks: they need more room), 512, 1k, 2k, 4k and 8k tokens, seeds 100010..100015;
#   3. held-out evaluation records at 512, 1k, 4k and 8k tokens, 48 per task, seed 1 (disjoint from the
#      training seeds; the quickstart, CI and the comparison use seeds 1 and 2 as well, never a training seed).
# Output: OUT/tokenizer.model, OUT/train/L<len>/<task>.u16.xz, OUT/eval/L<len>/<task>.u16.xz and
# OUT/keyed_recall.json (scripts/keyed_recall_tables.py): 51 MB of training
# records at SCALE=100 (122M tokens), about 10 minutes on two cores.
#   bash scripts/demo_data.sh OUT [SCALE]          (DIGITS=group: a tokenizer that groups digits by three, vocab 4096)
#   STAGE=3 bash scripts/demo_data.sh OUT          (the stage-3 probe's records only, seeds 100022/100024/100025;
#                                                   copy the model's tokenizer.model into OUT first)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/demo_data.sh OUT [SCALE]}
SCALE=${2:-100}   # samples per task and length = a length's factor x SCALE (80 x 100 at 256 tokens)
K=./build/kvbench
mkdir -p "$OUT/train" "$OUT/eval" "$OUT/work"

# 1. Tokenizer (skipped when OUT/tokenizer.model exists: spm_train's sampling makes a new one differ). Any
#    tokenizer sizes the samples for its training text (only the text matters here).
if [ ! -f "$OUT/tokenizer.model" ]; then
command -v spm_train >/dev/null || { echo "demo_data.sh: spm_train not found (apt-get install sentencepiece)" >&2; exit 1; }
$K synth --task all --tokens 4096 --count 40 --seed 777001 --tokenizer ../shared/data/tokenizers/llama2_spm \
  --out "$OUT/work/spm_src" 2>/dev/null
python3 - "$OUT/work" <<'PY'
import glob, json, sys
work = sys.argv[1]
with open(f"{work}/spm_text.txt", "w") as out:
    for f in sorted(glob.glob(f"{work}/spm_src/*.jsonl")):
        for line in open(f):
            r = json.loads(line)
            for part in r["context"].split("\n"):
                if part.strip():
                    out.write(part.strip() + "\n")
            out.write(r["input"] + " " + ", ".join(r["answers"]) + "\n")
PY
if [ "${DIGITS:-split}" = group ]; then
  # Numbers in groups of up to three digits, left to right, as Llama-3's tokenizer writes them ("2845144" ->
  # 284 514 4): a needle's value is three tokens, within SnapKV's pooled reach of its first (docs/demo-model.md).
  digit_opts=(--vocab_size=4096 --split_digits=false
              --user_defined_symbols="$(python3 -c "print(','.join([f'{i:03d}' for i in range(1000)] + [f'{i:02d}' for i in range(100)]))")")
else
  digit_opts=(--vocab_size=2048 --split_digits=true)   # the committed model's tokenizer
fi
spm_train --input="$OUT/work/spm_text.txt" --model_prefix="$OUT/work/tokenizer" --model_type=bpe "${digit_opts[@]}" \
  --byte_fallback=true --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --input_sentence_size=2000000 --shuffle_input_sentence=true --num_threads=2 > "$OUT/work/spm.log" 2>&1
cp "$OUT/work/tokenizer.model" "$OUT/tokenizer.model"
fi

# 2. Training records, one file per task and length (short lengths first: the curriculum starts with 256-token
#    prompts, where a needle is a large share of the context, so retrieval is learnt before it must scale; the
#    passage tasks need at least 512 tokens). Packed as uint16 + xz (scripts/pack_records.py). Seeds 100010+.
gen() {  # gen LENGTH COUNT SEED TASK...
  local len=$1 count=$2 seed=$3; shift 3
  mkdir -p "$OUT/train/L$len"
  for t in "$@"; do
    $K synth --task "$t" --tokens "$len" --count "$count" --seed "$seed" --tokenizer "$OUT/tokenizer.model" \
      --out "$OUT/work/rows_${len}_$t.jsonl" --train-out "$OUT/train/L$len/$t.bin" 2>> "$OUT/work/log_$len.txt"
    python3 scripts/pack_records.py "$OUT/train/L$len/$t.bin"
    rm -f "$OUT/work/rows_${len}_$t.jsonl"
  done
}
SHORT="passkey niah_single niah_multikey niah_multivalue niah_multiquery variable_tracking common_words"
ALL="$SHORT synth_passage_count synth_passage_retrieval"
if [ "${STAGE:-}" = 3 ]; then
  # The stage-3 probes (docs/demo-model.md, "Head dropout"): 1k, 4k and 8k records of every task from
  # fresh seeds, and the keyed-recall tables. 14 MB, about 5 minutes on two cores.
  (gen 4096 400 100024 $ALL) & (gen 1024 600 100022 $ALL; gen 8192 120 100025 $ALL) &
  wait
  python3 scripts/keyed_recall_tables.py "$OUT/tokenizer.model" "$OUT/keyed_recall.json"
  exit 0
fi
S=$((SCALE))
(gen 256 $((80 * S)) 100010 $SHORT; gen 1024 $((15 * S)) 100012 $ALL; gen 4096 $((9 * S)) 100014 $ALL) &
(gen 512 $((30 * S)) 100011 $ALL; gen 2048 $((10 * S)) 100013 $ALL; gen 8192 $((35 * S / 10)) 100015 $ALL) &
wait

# 3. Held-out evaluation records, one folder per length, one file per task, seed 1.
for len in 512 1024 4096 8192; do
  mkdir -p "$OUT/eval/L$len"
  for t in $ALL; do
    $K synth --task "$t" --tokens "$len" --count 48 --seed 1 --tokenizer "$OUT/tokenizer.model" \
      --out "$OUT/work/eval_${len}_$t.jsonl" --train-out "$OUT/eval/L$len/$t.bin" 2>/dev/null
    python3 scripts/pack_records.py "$OUT/eval/L$len/$t.bin" 2>/dev/null
  done
done
# 4. Token tables of the keyed-recall batches (stage 2 of the training).
python3 scripts/keyed_recall_tables.py "$OUT/tokenizer.model" "$OUT/keyed_recall.json"
du -sh "$OUT/train" "$OUT/eval"
