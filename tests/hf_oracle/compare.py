#!/usr/bin/env python3
"""CPU parity of kvbench's tokenizer.json implementation against HF tokenizers 0.23.2 (the Rust library,
through its official Node binding in this folder): ids with and without special tokens, and decoding, on the
strings of tests/tokenizer_corpus.py, for every tokenizer.json in ../shared/data/tokenizers.

    python3 tests/hf_oracle/compare.py --kvbench build/kvbench [--shared ../shared] [--random 1500]

Exit 0: all identical; 1: mismatches (listed); 77: skipped (no node, no `npm install` here, or no ../shared).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tokenizer_corpus import build_corpus  # noqa: E402

SKIP = 77


def run(cmd: list[str]) -> tuple[list[dict], dict]:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {p.stderr[-2000:]}")
    timing = json.loads(p.stderr.strip().splitlines()[-1]) if p.stderr.strip() else {}
    return [json.loads(line) for line in p.stdout.split("\n") if line], timing


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent.parent / "shared")
    ap.add_argument("--random", type=int, default=1500)
    ap.add_argument("--pair", action="append", default=[], metavar="OURS=HF_JSON",
                    help="also compare our tokenizer OURS (e.g. a SentencePiece .model) with HF's HF_JSON")
    args = ap.parse_args()
    if shutil.which("node") is None or not (HERE / "node_modules" / "tokenizers").is_dir():
        print("SKIP: needs node and `npm install --prefix tests/hf_oracle` (HF tokenizers' Node binding)")
        return SKIP
    data = args.shared / "data"
    if not (data / "tokenizers").is_dir():
        print(f"SKIP: {data} (real tokenizers) is not present")
        return SKIP

    texts, raw, prompts = build_corpus(data, args.random)
    rows = [{"text": t} for t in texts] + [{"b64": base64.b64encode(b).decode()} for b in raw]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        batch = os.path.join(tmp, "in.jsonl")
        with open(batch, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print(f"{'tokenizer':12} {'specials':>8} {'strings':>8} {'id mism':>8} {'decode mism':>12}")
        pairs = [(name, str(data / "tokenizers" / name / "tokenizer.json"), str(data / "tokenizers" / name / "tokenizer.json"))
                 for name in sorted(p.name for p in (data / "tokenizers").iterdir() if (p / "tokenizer.json").exists())]
        pairs += [(Path(a.split("=", 1)[0]).parent.name, *a.split("=", 1)) for a in args.pair]
        for name, path, hf_path in pairs:
            for flags in ([], ["--no-bos"]):
                ours, _ = run([args.kvbench, "--log-level", "warn", "tokenize", "--tokenizer", path, "--batch", batch,
                               "--with-decode", *flags])
                theirs, _ = run(["node", str(HERE / "oracle.js"), hf_path, batch, *flags])
                assert len(ours) == len(theirs) == len(rows)
                id_bad = [i for i in range(len(rows)) if ours[i]["ids"] != theirs[i]["ids"]]
                dec_bad = [i for i in range(len(rows)) if i not in id_bad and
                           (ours[i]["decoded"], ours[i]["decoded_skip_special"]) !=
                           (theirs[i]["decoded"], theirs[i]["decoded_skip_special"])]
                print(f"{name:12} {'no' if flags else 'yes':>8} {len(rows):>8} {len(id_bad):>8} {len(dec_bad):>12}")
                for i in (id_bad + dec_bad)[:5]:
                    print("   ", json.dumps(rows[i])[:160])
                    print("     hf     ", json.dumps(theirs[i], ensure_ascii=False)[:300])
                    print("     kvbench", json.dumps(ours[i], ensure_ascii=False)[:300])
                failed |= bool(id_bad or dec_bad)
    print("FAILED" if failed else "ALL IDENTICAL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
