#!/usr/bin/env python3
"""Tokenizer and chat-template parity of kvbench against HF, and encoder speed side by side.

Usage (on the GPU machine, where `tokenizers`, `transformers`, `sentencepiece` and `jinja2` exist):
    python3 tests/gpu/tokenizer_parity.py --kvbench build-gpu/kvbench --data DIR [--out results.json]
DIR holds copies of ../shared/data/{tokenizers,tokenizer-tests,chat-templates,longbench}.

Checks, per tokenizer (llama2_spm, mistral_hf, llama3_hf, qwen2_hf (a Qwen3 tokenizer), gemma3_hf):
  ids       identical ids, with and without special tokens, on >= 2,000 strings: llama.cpp's tokenizer test
            inputs, hand-written edge cases (whitespace runs, digits, emoji and ZWJ sequences, CJK, combining
            marks, RTL scripts, control characters, special-token text inside prompts), random mixtures of
            those, invalid UTF-8 byte strings (HF gets bytes.decode("utf-8", "replace"), kvbench the raw
            bytes), and every full LongBench prompt built from the three real subsets.
            Oracle: HF `tokenizers` Tokenizer.from_file for tokenizer.json files; for the SentencePiece
            .model, the `sentencepiece` library itself (plus BOS, as HF's LlamaTokenizer adds), with the
            transformers-converted fast tokenizer reported beside it.
  decode    decode(ids) equal to HF's, with and without skip_special_tokens; and decode(encode(x)) == x
            wherever HF's round trip holds.
  chat      the C++ chat formats render exactly what transformers' apply_chat_template (enable_thinking=False)
            renders from every template of tests/data/chat-templates/templates.json (Mistral v0.1/v0.2/v0.3/
            Nemo, Llama-3/3.1, Qwen2.5, Qwen3, Gemma 2/3, Phi-3/3.5/4-mini; those under DIR included) on the
            conversations of tokenizer_corpus.chat_conversations (the LongBench case first), encode to the same
            ids as apply_chat_template(tokenize=True) where the template's tokenizer is in DIR, and refuse
            what the template refuses.
  speed     encode throughput on the LongBench prompts, single thread, encode time only, ours / HF's
            (the acceptance bound is >= 0.5).
Exit code 0 iff every gated check passes.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import sentencepiece as spm  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tokenizer_corpus import (SPECIAL_TEXTS, build_corpus, chat_conversations, chat_templates,  # noqa: E402
                              write_render_tokenizer)

def run_kvbench(kvbench: str, tokenizer: Path, rows: list[dict], extra: list[str]) -> tuple[list[dict], dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=True) + "\n")
        path = f.name
    p = subprocess.run([kvbench, "--log-level", "warn", "tokenize", "--tokenizer", str(tokenizer), "--batch", path,
                        "--with-decode", "--time", *extra], capture_output=True, text=True)
    os.unlink(path)
    if p.returncode != 0:
        raise RuntimeError(f"kvbench failed: {p.stderr[-2000:]}")
    timing = json.loads(p.stderr.strip().splitlines()[-1])
    return [json.loads(line) for line in p.stdout.split("\n") if line], timing


def hf_tokenizer_from_spm(path: Path, out_dir: Path | None) -> Tokenizer:
    """HF's own conversion of a Llama SentencePiece model into a `tokenizers` Tokenizer (what HF users run for
    Llama-2). transformers 5 reorganised its tokenizer classes, so try the documented routes in turn and keep
    the first whose result encodes llama.cpp's reference case ("Hello world" -> 15043 3186) correctly."""
    errors = []

    def via_auto():
        import shutil
        from transformers import AutoTokenizer
        d = Path(tempfile.mkdtemp())
        shutil.copy(path, d / "tokenizer.model")
        (d / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
            "add_bos_token": True, "add_eos_token": False, "legacy": True}))
        return AutoTokenizer.from_pretrained(str(d)).backend_tokenizer

    def via_fast_from_slow():
        from transformers import LlamaTokenizerFast
        return LlamaTokenizerFast(vocab_file=str(path), from_slow=True, legacy=True).backend_tokenizer

    def via_converter():
        from transformers.convert_slow_tokenizer import LlamaConverter
        sp = spm.SentencePieceProcessor(model_file=str(path))

        class Slow:  # the attributes the converter reads from a slow tokenizer
            vocab_file = str(path)
            legacy = True
            add_prefix_space = None
            bos_token, eos_token, unk_token = "<s>", "</s>", "<unk>"
            bos_token_id, eos_token_id, unk_token_id = 1, 2, 0
            add_bos_token, add_eos_token = True, False

            def convert_ids_to_tokens(self, i):
                return sp.id_to_piece(i)

        return LlamaConverter(Slow()).converted()

    for name, build in (("AutoTokenizer", via_auto), ("LlamaTokenizerFast(from_slow)", via_fast_from_slow),
                        ("LlamaConverter", via_converter)):
        try:
            tok = build()
            got = tok.encode("Hello world", add_special_tokens=False).ids
            if got == [15043, 3186]:
                print(f"  HF oracle for {path.name}: {name}", flush=True)
                if out_dir is not None:
                    tok.save(str(out_dir / "llama2_spm_converted_tokenizer.json"))
                return tok
            errors.append(f"{name}: 'Hello world' -> {got}")
        except Exception as e:  # noqa: BLE001
            errors.append(f"{name}: {type(e).__name__}: {e}")
    raise RuntimeError("no working HF conversion of " + str(path) + ": " + "; ".join(errors))


class HfOracle:
    """encode/decode with HF `tokenizers`. A tokenizer.json loads directly; a SentencePiece .model goes through
    transformers' conversion (hf_tokenizer_from_spm)."""

    out_dir: Path | None = None

    def __init__(self, name: str, path: Path):
        self.name = name
        self.spm = None
        if path.suffix == ".model":
            self.spm = spm.SentencePieceProcessor(model_file=str(path))
            self.tok = hf_tokenizer_from_spm(path, HfOracle.out_dir)
        else:
            self.tok = Tokenizer.from_file(str(path))

    def encode(self, text: str, add_special: bool) -> list[int]:
        return self.tok.encode(text, add_special_tokens=add_special).ids

    def decode(self, ids: list[int], skip_special: bool) -> str:
        return self.tok.decode(ids, skip_special_tokens=skip_special)


def check_tokenizer(name: str, path: Path, texts: list[str], raw: list[bytes], prompts: list[str], kvbench: str) -> dict:
    oracle = HfOracle(name, path)
    rows = [{"text": t} for t in texts] + [{"b64": base64.b64encode(b).decode()} for b in raw]
    hf_texts = texts + [b.decode("utf-8", "replace") for b in raw]
    result = {"strings": len(rows)}
    for add_special in (False, True):
        ours, _ = run_kvbench(kvbench, path, rows, [] if add_special else ["--no-bos"])
        mismatches, decode_bad, roundtrip_bad, examples = 0, 0, 0, []
        for text, row in zip(hf_texts, ours):
            expected = oracle.encode(text, add_special)
            if row["ids"] != expected:
                mismatches += 1
                if len(examples) < 5:
                    examples.append({"text": text[:200], "hf": expected[:40], "kvbench": row["ids"][:40]})
                continue
            for skip, key in ((False, "decoded"), (True, "decoded_skip_special")):
                if row[key] != oracle.decode(expected, skip):
                    decode_bad += 1
                    if len(examples) < 5:
                        examples.append({"decode_of": text[:100], "skip": skip, "hf": oracle.decode(expected, skip)[:200],
                                         "kvbench": row[key][:200]})
            if oracle.decode(expected, True) == text and row["decoded_skip_special"] != text:
                roundtrip_bad += 1
        result[f"add_special={add_special}"] = {"id_mismatches": mismatches, "decode_mismatches": decode_bad,
                                                "roundtrip_failures": roundtrip_bad, "examples": examples}
    # Speed: encode-only time over the LongBench prompts, single thread each side.
    t0 = time.perf_counter()
    hf_tokens = sum(len(oracle.encode(p, True)) for p in prompts)
    hf_seconds = time.perf_counter() - t0
    if oracle.spm is not None:  # info: the sentencepiece library itself against HF's converted tokenizer
        plain = [t for t in hf_texts if not any(s in t for s in SPECIAL_TEXTS)]
        result["sentencepiece_vs_hf_mismatches_on_text_without_special_tokens"] = sum(
            1 for t in plain if oracle.spm.encode(t) != oracle.encode(t, False))
        t0 = time.perf_counter()
        for p in prompts:
            oracle.spm.encode(p)
        result["sentencepiece_python_seconds"] = round(time.perf_counter() - t0, 3)
    ours, timing = run_kvbench(kvbench, path, [{"text": p} for p in prompts], [])
    ours_tokens = sum(len(r["ids"]) for r in ours)
    mb = sum(len(p.encode()) for p in prompts) / 1e6
    hf_ref_seconds = hf_seconds
    result["speed"] = {"prompts": len(prompts), "MB": round(mb, 2), "tokens": ours_tokens, "hf_tokens": hf_tokens,
                       "hf_seconds": round(hf_ref_seconds, 3), "kvbench_seconds": round(timing["encode_seconds"], 3),
                       "hf_MB_per_s": round(mb / hf_ref_seconds, 2),
                       "kvbench_MB_per_s": round(mb / timing["encode_seconds"], 2),
                       "ratio_kvbench_over_hf": round(hf_ref_seconds / timing["encode_seconds"], 2)}
    return result


def check_chat(data: Path, kvbench: str, prompts: list[str]) -> dict:
    """Every template of tests/data/chat-templates/templates.json (those under DIR included) against
    transformers' apply_chat_template on every conversation of chat_conversations: the rendered text, the ids
    of apply_chat_template(tokenize=True) where the template's real tokenizer is in DIR, and refusals (a
    template that raises must make kvbench stop with an error)."""
    from transformers import PreTrainedTokenizerFast
    convs = chat_conversations(prompts[::50])
    out = {}
    for n, entry in enumerate(chat_templates(data)):
        fmt, template = entry["format"], entry["text"]
        tok_dir = entry["tokenizer_dir"] or write_render_tokenizer(Path(tempfile.mkdtemp()), entry["bos_token"],
                                                                   entry["eos_token"])
        tok = PreTrainedTokenizerFast(tokenizer_file=str(tok_dir / "tokenizer.json"), bos_token=entry["bos_token"],
                                      eos_token=entry["eos_token"])
        rows, expected_text, expected_ids, refused = [], [], [], []
        for conv in convs:
            for gen in ((True,) if entry.get("generation_prompt_only") else (True, False)):
                row = {"messages": conv, "add_generation_prompt": gen}
                kwargs = dict(chat_template=template, add_generation_prompt=gen, enable_thinking=False)
                try:
                    text = tok.apply_chat_template(conv, tokenize=False, **kwargs)
                except Exception:  # noqa: BLE001 - the template's raise_exception (TemplateError)
                    refused.append(row)
                    continue
                enc = tok.apply_chat_template(conv, tokenize=True, **kwargs)
                if isinstance(enc, dict) or hasattr(enc, "keys"):
                    enc = enc["input_ids"]
                rows.append(row)
                expected_text.append(text)
                expected_ids.append(list(enc))
        ours, _ = run_kvbench(kvbench, tok_dir, rows, ["--chat", fmt])
        text_bad = [i for i, (r, e) in enumerate(zip(ours, expected_text)) if r["rendered"] != e]
        ids_bad = [i for i, (r, e) in enumerate(zip(ours, expected_ids)) if r["ids"] != e] \
            if entry["tokenizer_dir"] else []
        not_refused = 0
        for row in refused:
            try:
                run_kvbench(kvbench, tok_dir, [row], ["--chat", fmt])
                not_refused += 1
            except RuntimeError:
                pass
        out[f"{fmt} ({entry['model']})"] = {
            "renders": len(rows), "text_mismatches": len(text_bad), "id_mismatches": len(ids_bad),
            "ids_compared": entry["tokenizer_dir"] is not None, "refused_by_hf": len(refused),
            "not_refused_by_kvbench": not_refused,
            "examples": [{"hf": expected_text[i][:300], "kvbench": ours[i]["rendered"][:300]} for i in text_bad[:2]]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--random", type=int, default=1500, help="random mixture strings")
    ap.add_argument("--only", default="", help="comma-separated tokenizer names (default: all five)")
    args = ap.parse_args()
    HfOracle.out_dir = args.out.parent if args.out else None
    texts, raw, prompts = build_corpus(args.data, args.random)
    tok_dir = args.data / "tokenizers"
    results = {"strings_per_tokenizer": len(texts) + len(raw)}
    names = ["llama2_spm", "mistral_hf", "llama3_hf", "qwen2_hf", "gemma3_hf"]
    only = [n for n in args.only.split(",") if n] or names
    for name in names:
        path = tok_dir / name / ("tokenizer.model" if name.endswith("_spm") else "tokenizer.json")
        if name not in only:
            continue
        t0 = time.time()
        results[name] = check_tokenizer(name, path, texts, raw, prompts, args.kvbench)
        print(f"[{name}] {time.time() - t0:.0f}s {json.dumps({k: v for k, v in results[name].items()})[:1500]}", flush=True)
    results["chat"] = check_chat(args.data, args.kvbench, prompts) if args.only == "" else {}
    print("[chat]", json.dumps(results["chat"])[:2000], flush=True)

    ok = True
    print(f"\n{'tokenizer':12} {'strings':>8} {'id mism':>8} {'dec mism':>9} {'rt fail':>8} {'ours MB/s':>10} {'HF MB/s':>8} {'ratio':>6}")
    for name in only:
        r = results[name]
        mism = sum(r[k]["id_mismatches"] for k in ("add_special=False", "add_special=True"))
        dec = sum(r[k]["decode_mismatches"] for k in ("add_special=False", "add_special=True"))
        rt = sum(r[k]["roundtrip_failures"] for k in ("add_special=False", "add_special=True"))
        s = r["speed"]
        ok &= mism == 0 and dec == 0 and rt == 0 and s["ratio_kvbench_over_hf"] >= 0.5
        print(f"{name:12} {r['strings']:>8} {mism:>8} {dec:>9} {rt:>8} {s['kvbench_MB_per_s']:>10} {s['hf_MB_per_s']:>8} {s['ratio_kvbench_over_hf']:>6}")
    for fmt, r in results["chat"].items():
        ok &= r["text_mismatches"] == 0 and r["id_mismatches"] == 0 and r["not_refused_by_kvbench"] == 0
        print(f"chat {fmt[:50]:50} renders {r['renders']}: text mismatches {r['text_mismatches']}, id mismatches "
              f"{r['id_mismatches'] if r['ids_compared'] else '-'}, refusals {r['refused_by_hf']} "
              f"(kvbench rendered {r['not_refused_by_kvbench']} of them)")
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
