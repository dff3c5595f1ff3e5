#!/usr/bin/env python3
"""Token tables for train_demo.py's keyed-recall batches (run HERE, where kvbench is built).

The demo model learnt to copy a needle's number but not to pick the needle whose KEY the question names
(niah_multikey stayed at 1 in 4: docs/demo-model.md). Keyed recall is that skill, densely: many needles,
several questions per sample, each in the exact wording and tokens of the niah tasks. SentencePiece never
merges across a word boundary, so a sample can be assembled from the tokens of its words; this script checks
that on real needles before writing the tables.
    python3 scripts/keyed_recall_tables.py TOKENIZER OUT.json      ($KVBENCH: the binary, default ./build/kvbench)"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

K = os.environ.get("KVBENCH", "./build/kvbench")
tok, out = sys.argv[1], sys.argv[2]


def encode(texts):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    res = subprocess.run([K, "tokenize", "--tokenizer", tok, "--no-bos", "--batch", f.name],
                         check=True, capture_output=True, text=True)
    return [json.loads(line)["ids"] for line in res.stdout.splitlines()]


# Keys and filler sentences from generated niah samples (training seeds only, never 1 or 2).
with tempfile.TemporaryDirectory() as d:
    subprocess.run([K, "synth", "--task", "niah_multikey", "--tokens", "4096", "--count", "300", "--seed", "300001",
                    "--tokenizer", tok, "--out", f"{d}/mk.jsonl"], check=True, capture_output=True)
    rows = [json.loads(line) for line in open(f"{d}/mk.jsonl")]
keys, sentences = set(), set()
for r in rows:
    keys.update(re.findall(r"numbers for (\S+) is: \d+\.", r["context"]))
    for s in re.split(r"(?<=[.?!])\s+", r["context"].replace("\n", " ")):
        if s and "magic" not in s:
            sentences.add(s.strip())
keys, sentences = sorted(keys), sorted(sentences)
random.Random(0).shuffle(sentences)
sentences = sentences[:6000]

pieces = {
    "instruction": "Some special magic numbers are hidden within the following text. Make sure to memorize it. "
                   "I will quiz you about the numbers afterwards.",
    "needle": "One of the special magic numbers for",
    "is": "is:",
    "question": "What is the special magic number for",
    "answer": "mentioned in the provided text? Answer: The special magic number for",
    "tail": "mentioned in the provided text is",
}
ids = dict(zip(pieces, encode(list(pieces.values()))))
# Values as a bank of encoded numbers: a tokenizer that groups digits (Llama-3 style) may merge the last
# group with the needle's period, so each value is encoded as the needle writes it ("2845144.") and as an
# answer ("2845144", followed by its own period in the question block).
rng = random.Random(1)
numbers = [str(rng.randint(1000000, 9999999)) for _ in range(20000)]
with_period, bare = encode([n + "." for n in numbers]), encode(numbers)
period = encode(["0."])[0][-1]
table = {"pieces": ids, "period": period, "values": [[a, b] for a, b in zip(with_period, bare)],
         "keys": encode(keys), "sentences": encode(sentences)}
space_digits = encode(["0123456789"])[0]
if len(space_digits) == 11:  # "▁" then one piece per digit: the tables stage 2 of the committed model used
    table["space"], table["digits"] = space_digits[0], space_digits[1:]

# The check: a needle assembled from pieces equals the needle tokenized whole.
whole = encode([f"One of the special magic numbers for {k} is: {n}." for k, n in zip(keys[:200], numbers)])
for k_ids, (v_ids, _), w in zip(table["keys"][:200], table["values"], whole):
    built = ids["needle"] + k_ids + ids["is"] + v_ids
    assert built == w, (built, w)
json.dump(table, open(out, "w"))
print(f"{out}: {len(keys)} keys, {len(sentences)} sentences, {len(numbers)} values", file=sys.stderr)
