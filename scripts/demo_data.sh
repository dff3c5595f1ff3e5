#!/usr/bin/env bash
# Data for the demo model (run HERE, on the CPU machine; the GPU machine trains on what this writes):
#   1. a SentencePiece BPE tokenizer (2,048 pieces, digits split, byte fallback) trained with Debian's spm_train
#      on generated synthetic samples (the project's own filler text: nothing copyrighted);
#   2. training records, `kvbench synth --train-out`, gzipped: every task at 1k, 2k, 4k and 8k tokens,
#      COUNT samples per task and length, seeds 100001..100004;
#   3. held-out evaluation records at 4k tokens, 48 per task, seed 1 (disjoint from the training seeds; the
#      quickstart and CI evaluations use seeds 1 and 2 as well, never a training seed).
# Output: OUT/tokenizer.model, OUT/train/L<len>.bin.gz, OUT/eval/<task>.bin.gz (about 60 MB at COUNT=500:
# under the 64 MiB a device call may carry together with .deps).
#   bash scripts/demo_data.sh OUT [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/demo_data.sh OUT [COUNT]}
COUNT=${2:-500}
K=./build/kvbench
mkdir -p "$OUT/train" "$OUT/eval" "$OUT/work"

# 1. Tokenizer: any tokenizer sizes the samples for its training text (only the text matters here).
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
spm_train --input="$OUT/work/spm_text.txt" --model_prefix="$OUT/work/tokenizer" --vocab_size=2048 --model_type=bpe \
  --split_digits=true --byte_fallback=true --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --input_sentence_size=2000000 --shuffle_input_sentence=true --num_threads=2 > "$OUT/work/spm.log" 2>&1
cp "$OUT/work/tokenizer.model" "$OUT/tokenizer.model"

# 2. Training records, two lengths at a time (two cores).
gen() {
  $K synth --task all --tokens "$1" --count "$COUNT" --seed "$2" --tokenizer "$OUT/tokenizer.model" \
    --out "$OUT/work/rows_$1" --train-out "$OUT/train/L$1.bin" 2> "$OUT/work/log_$1.txt"
  gzip -f "$OUT/train/L$1.bin"
  rm -rf "$OUT/work/rows_$1"
}
(gen 1024 100001; gen 8192 100004) &
(gen 2048 100002; gen 4096 100003) &
wait

# 3. Held-out evaluation records, one file per task.
for t in passkey niah_single niah_multikey niah_multivalue niah_multiquery variable_tracking common_words \
         synth_passage_count synth_passage_retrieval; do
  $K synth --task "$t" --tokens 4096 --count 48 --seed 1 --tokenizer "$OUT/tokenizer.model" \
    --out "$OUT/work/eval_$t.jsonl" --train-out "$OUT/eval/$t.bin" 2>/dev/null
  gzip -f "$OUT/eval/$t.bin"
done
du -sh "$OUT/train" "$OUT/eval"
