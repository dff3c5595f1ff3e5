#!/usr/bin/env python3
"""CPU parity of kvbench's C++ chat formats against the real HF chat templates rendered by HF's own Jinja
engine for JavaScript (@huggingface/jinja, in this folder): for every template of
tests/data/chat-templates/templates.json, every conversation of tests/tokenizer_corpus.py's
chat_conversations (LongBench's case first: one user message, the generation prompt), with and without the
generation prompt. The text must be identical byte for byte; where a real tokenizer goes with the template,
the ids too (HF tokenizers' Node binding encoding the template's rendering without adding special tokens, as
apply_chat_template(tokenize=True) does); where the template raises, kvbench must refuse with an error line.

    python3 tests/hf_oracle/chat_compare.py --kvbench build/kvbench [--shared ../shared]

Templates under ../shared (and the real LongBench prompts) are left out when it is absent.
Exit 0: all identical; 1: mismatches (listed); 77: skipped (no node or no `npm install` here).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tokenizer_corpus import chat_conversations, chat_templates, longbench_prompts, write_render_tokenizer  # noqa: E402

SKIP = 77


def run_jsonl(cmd: list[str], rows: list[dict], tmp: Path) -> subprocess.CompletedProcess:
    batch = tmp / "in.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return subprocess.run([*cmd, str(batch)], capture_output=True, text=True)


def lines(p: subprocess.CompletedProcess, what: str) -> list[dict]:
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed: {p.stderr[-2000:]}")
    return [json.loads(line) for line in p.stdout.splitlines() if line]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent.parent / "shared")
    args = ap.parse_args()
    if shutil.which("node") is None or not (HERE / "node_modules" / "@huggingface" / "jinja").is_dir():
        print("SKIP: needs node and `npm install --prefix tests/hf_oracle` (@huggingface/jinja)")
        return SKIP
    data = args.shared / "data" if (args.shared / "data" / "longbench").is_dir() else None
    if data is None:
        print(f"note: {args.shared} is absent: its templates and the real LongBench prompts are left out")
    # The LongBench case on real prompts: a few from each of the three subsets (English and Chinese).
    conversations = chat_conversations(longbench_prompts(data)[::100] if data else [])
    failed = False
    print(f"{'model':44} {'format':12} {'renders':>7} {'text mism':>9} {'id mism':>7} {'refused':>7}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n, entry in enumerate(chat_templates(data)):
            fmt, bos, eos, tok_dir = entry["format"], entry["bos_token"], entry["eos_token"], entry["tokenizer_dir"]
            jinja = tmp / f"{n}.jinja"
            jinja.write_text(entry["text"])
            if tok_dir is None:
                tok_dir = write_render_tokenizer(tmp / f"tok{n}", bos, eos)
            tok_json = str(tok_dir / "tokenizer.json") if entry["tokenizer_dir"] else None
            gens = (True,) if entry.get("generation_prompt_only") else (True, False)
            rows = [{"messages": c, "add_generation_prompt": g} for c in conversations for g in gens]
            theirs = lines(run_jsonl(["node", str(HERE / "chat_oracle.js")],
                                     [{**r, "template": str(jinja), "bos_token": bos, "eos_token": eos,
                                       "tokenizer": tok_json} for r in rows], tmp), "chat_oracle.js")
            kvbench = [args.kvbench, "--log-level", "warn", "tokenize", "--tokenizer", str(tok_dir), "--chat", fmt,
                       "--batch"]
            rendered = [i for i, t in enumerate(theirs) if "error" not in t]
            ours = lines(run_jsonl(kvbench, [rows[i] for i in rendered], tmp), f"kvbench tokenize --chat {fmt}")
            text_bad = [(i, o) for i, o in zip(rendered, ours) if o["rendered"] != theirs[i]["rendered"]]
            id_bad = [(i, o) for i, o in zip(rendered, ours) if tok_json and o["ids"] != theirs[i]["ids"]]
            # A conversation the template refuses: kvbench must stop with one error line, not render it (checked
            # once per conversation, with a tokenizer that loads at once).
            refused = [i for i, t in enumerate(theirs) if "error" in t]
            quick = [*kvbench[:5], str(write_render_tokenizer(tmp / f"quick{n}", bos, eos)), *kvbench[6:]]
            for i in refused:
                if not rows[i]["add_generation_prompt"] and {**rows[i], "add_generation_prompt": True} in rows:
                    continue
                p = run_jsonl(quick, [rows[i]], tmp)
                if p.returncode == 0 or not p.stderr.startswith("error: chat format"):
                    text_bad.append((i, {"refusal": f"exit {p.returncode}: {(p.stdout + p.stderr).strip()[:200]}"}))
            print(f"{entry['model'][:44]:44} {fmt:12} {len(rows):>7} {len(text_bad):>9} "
                  f"{len(id_bad) if tok_json else '-':>7} {len(refused):>7}")
            for i, o in (text_bad + id_bad)[:3]:
                print("    messages", json.dumps(rows[i], ensure_ascii=False)[:200])
                print("    hf      ", json.dumps(theirs[i], ensure_ascii=False)[:400])
                print("    kvbench ", json.dumps(o, ensure_ascii=False)[:400])
            failed |= bool(text_bad or id_bad)
    print("FAILED" if failed else "ALL IDENTICAL")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
