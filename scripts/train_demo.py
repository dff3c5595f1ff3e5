#!/usr/bin/env python3
"""Trains kvbench's demo model on the GPU machine (PyTorch + HF transformers, both there).

    python3 scripts/train_demo.py --data DIR --tokenizer tokenizer.model --out models/kvbench-demo \\
        --minutes 6 [--eval DIR]

DIR holds training records written by `kvbench synth --train-out` (optionally gzipped, *.bin or *.bin.gz):
per sample `uint32 prompt_len, uint32 answer_len, uint32 ids[prompt_len + answer_len]`, the prompt exactly as
kvbench feeds it and the answer followed by EOS. --eval holds records from disjoint seeds, scored during
training (exact match of the teacher-forced greedy answer, per task).

--recall-minutes M first trains M minutes on multi-query associative recall over random tokens (recall_batch),
so that retrieval heads form before the tasks (the tasks alone did not get there: docs/demo-model.md).

Model: Llama with GQA (hidden 384, 8 layers, 6 query / 2 KV heads of 64, MLP 1024), the tokenizer's vocabulary,
RoPE theta 10000, context 8192. Loss: cross-entropy on the answer tokens plus 0.1 x the language-model loss on
the prompt (it teaches copying from context early). AdamW (lr 1e-3, betas .9/.95, weight decay .1), warm-up
then cosine decay over the time budget. Curriculum: the shortest prompts first, the longest last. Saves an HF
checkpoint in bf16 (config.json, model.safetensors, generation_config.json) plus tokenizer.model, and
train_log.json (loss curve, evaluations, the recipe).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def read_records(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    words = np.frombuffer(raw, dtype="<u4")
    out, i = [], 0
    while i < len(words):
        p, a = int(words[i]), int(words[i + 1])
        ids = words[i + 2:i + 2 + p + a]
        out.append((ids[:p].astype(np.int64), ids[p:].astype(np.int64)))
        i += 2 + p + a
    return out


def load_dir(d: Path) -> dict[str, list]:
    by_file = {}
    for f in sorted(d.glob("*.bin*")):
        by_file[f.name.split(".")[0]] = read_records(f)
    return by_file


def make_batch(samples, device):
    T = max(len(p) + len(a) for p, a in samples)
    ids = torch.zeros(len(samples), T, dtype=torch.long)
    answer = torch.zeros(len(samples), T, dtype=torch.bool)   # positions whose NEXT token is an answer token
    prompt = torch.zeros(len(samples), T, dtype=torch.bool)   # positions whose next token is a prompt token
    for i, (p, a) in enumerate(samples):
        seq = np.concatenate([p, a])
        ids[i, :len(seq)] = torch.from_numpy(seq)
        answer[i, len(p) - 1:len(seq) - 1] = True
        prompt[i, :len(p) - 1] = True
    return ids.to(device), answer.to(device), prompt.to(device)


def recall_batch(tokens_per_step: int, length: int, vocab: int, device):
    """Multi-query associative recall (MQAR): `k1 v1 k2 v2 ... kn vn` then queries `ka va kb vb ...`, the loss on
    each queried value. Retrieval by key in its purest form: it makes the model form the induction-style heads
    that the needle tasks need, which the tasks alone did not (docs/demo-model.md, attempts 1 and 2)."""
    batch = max(1, tokens_per_step // length)
    pairs = length // 4                      # half the sequence holds pairs, half queries
    keys = torch.rand(batch, vocab - 3, device=device).argsort(dim=1)[:, :pairs] + 3   # distinct keys per row
    values = torch.randint(3, vocab, (batch, pairs), device=device)
    asked = torch.randint(0, pairs, (batch, pairs), device=device)
    context = torch.stack([keys, values], dim=2).reshape(batch, 2 * pairs)
    queries = torch.stack([keys.gather(1, asked), values.gather(1, asked)], dim=2).reshape(batch, 2 * pairs)
    ids = torch.cat([context, queries], dim=1)
    answer = torch.zeros_like(ids, dtype=torch.bool)
    answer[:, 2 * pairs::2] = True           # a query key's position predicts its value
    prompt = torch.zeros_like(answer)        # no LM loss on random tokens
    return ids, answer, prompt


def losses(model, ids, answer, prompt):
    logits = model(input_ids=ids).logits[:, :-1].float()
    target = ids[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), reduction="none").view_as(target)
    a, p = answer[:, :-1], prompt[:, :-1]
    return (ce * a).sum() / a.sum().clamp_min(1), (ce * p).sum() / p.sum().clamp_min(1), logits, target, a


@torch.no_grad()
def evaluate(model, eval_sets, device, per_task=64, batch=8):
    model.eval()
    acc = {}
    for task, samples in eval_sets.items():
        right = total = 0
        for s in range(0, min(per_task, len(samples)), batch):
            chunk = samples[s:s + batch]
            ids, answer, prompt = make_batch(chunk, device)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                _, _, logits, target, a = losses(model, ids, answer, prompt)
            ok = ((logits.argmax(-1) == target) | ~a).all(dim=1)
            right += int(ok.sum())
            total += len(chunk)
        acc[task] = right / max(total, 1)
    model.train()
    return acc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--eval", type=Path)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--tokens-per-step", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--bos", type=int, default=1)
    ap.add_argument("--eos", type=int, default=2)
    ap.add_argument("--recall-minutes", type=float, default=0.0,
                    help="first train this long on associative recall (recall_batch) before the tasks")
    ap.add_argument("--recall-length", type=int, default=512)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    device = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True

    from transformers import LlamaConfig, LlamaForCausalLM
    recipe = dict(vocab_size=args.vocab, hidden_size=384, intermediate_size=1024, num_hidden_layers=8,
                  num_attention_heads=6, num_key_value_heads=2, head_dim=64, max_position_embeddings=8192,
                  rope_theta=10000.0, rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False,
                  bos_token_id=args.bos, eos_token_id=args.eos, attention_bias=False, mlp_bias=False)
    fields = {k: v for k, v in recipe.items() if k != "rope_theta"}
    try:  # transformers 5 takes rope_parameters; 4.x rope_theta
        config = LlamaConfig(**fields, rope_parameters={"rope_type": "default", "rope_theta": recipe["rope_theta"]})
    except (TypeError, ValueError):
        config = LlamaConfig(**recipe)
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config).to(device)
    params = sum(p.numel() for p in model.parameters())
    print(f"[train] {params / 1e6:.1f}M parameters", flush=True)

    t_load = time.time()
    train = [s for recs in load_dir(args.data).values() for s in recs]
    eval_sets = load_dir(args.eval) if args.eval else {}
    train.sort(key=lambda s: len(s[0]) + len(s[1]))  # curriculum: short prompts first
    tokens = sum(len(p) + len(a) for p, a in train)
    print(f"[train] {len(train)} training samples, {tokens / 1e6:.1f}M tokens, loaded in {time.time() - t_load:.0f}s",
          flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    budget = args.minutes * 60
    warmup = 100
    log = {"recipe": dict(recipe, lr=args.lr, tokens_per_step=args.tokens_per_step, minutes=args.minutes,
                          recall_minutes=args.recall_minutes, recall_length=args.recall_length,
                          loss="answer CE + 0.1 x prompt LM CE", optimizer="AdamW(.9,.95) wd .1",
                          schedule=f"linear warm-up {warmup} steps, cosine to 10% over the time budget",
                          curriculum="samples sorted by length; at a fraction f of the time, 70% of batches come from around the f-quantile, 30% from a random shorter quantile"),
           "parameters": params, "train_samples": len(train), "train_tokens": tokens, "steps": [], "evals": []}

    t0 = time.time()
    step = 0
    next_eval = 60.0
    seen_tokens = 0
    while True:
        elapsed = time.time() - t0
        if elapsed > budget:
            break
        phase = "recall" if elapsed < args.recall_minutes * 60 else "tasks"
        if phase == "recall":
            ids, answer, prompt = recall_batch(args.tokens_per_step, args.recall_length, args.vocab, device)
        else:
            # Curriculum over the time left after the recall phase: at a fraction f of it, batches come from
            # around the f-quantile of the samples sorted by length (similar lengths in a batch, so little
            # padding); 30% of the batches revisit shorter lengths, so the early skills stay in the mix.
            task_time = budget - args.recall_minutes * 60
            f = min(1.0, max(0.0, elapsed - args.recall_minutes * 60) / max(task_time, 1.0))
            center = int((len(train) - 1) * f)
            if random.random() < 0.3:
                center = random.randint(0, center)
            length = len(train[center][0]) + len(train[center][1])
            window = train[max(0, center - 2048):center + 2048]
            batch = random.sample(window, min(max(1, args.tokens_per_step // length), len(window)))
            ids, answer, prompt = make_batch(batch, device)
        lr = args.lr * (step + 1) / warmup if step < warmup else \
            args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget))))
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast("cuda", dtype=torch.bfloat16):
            la, lp, _, _, _ = losses(model, ids, answer, prompt)
            loss = la + 0.1 * lp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen_tokens += int(ids.numel())
        step += 1
        if step % 20 == 0:
            rec = {"step": step, "phase": phase, "seconds": round(time.time() - t0, 1), "tokens": seen_tokens,
                   "length": ids.size(1),
                   "lr": lr, "answer_loss": round(la.item(), 4), "lm_loss": round(lp.item(), 4)}
            log["steps"].append(rec)
            print("[train]", json.dumps(rec), flush=True)
        if eval_sets and time.time() - t0 > next_eval:
            acc = evaluate(model, eval_sets, device)
            log["evals"].append({"step": step, "seconds": round(time.time() - t0, 1), "accuracy": acc})
            print("[eval]", json.dumps(log["evals"][-1]), flush=True)
            next_eval += 60.0
    if eval_sets:
        acc = evaluate(model, eval_sets, device, per_task=256)
        log["evals"].append({"step": step, "seconds": round(time.time() - t0, 1), "accuracy": acc, "final": True})
        print("[eval-final]", json.dumps(log["evals"][-1]), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    # Shards under 15 MB: the device tool returns files of at most 16 MiB.
    model.to(torch.bfloat16).save_pretrained(args.out, safe_serialization=True, max_shard_size="15MB")
    shutil.copy(args.tokenizer, args.out / "tokenizer.model")
    (args.out / "train_log.json").write_text(json.dumps(log, indent=1))
    print(f"[train] saved {args.out} after {step} steps, {seen_tokens / 1e6:.1f}M tokens", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
