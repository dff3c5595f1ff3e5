#!/usr/bin/env python3
"""Trains kvbench's demo model on the GPU machine (PyTorch + HF transformers, both there).

    python3 scripts/train_demo.py --data DIR --eval DIR --tokenizer tokenizer.model --vocab 2048 \
        --out models/kvbench-demo --minutes 8 [--stages 256:0.14,...] [--init CHECKPOINT] ...

DIR holds the records of `kvbench synth --train-out` as DIR/L<length>/<task>.u16.xz (scripts/pack_records.py;
.bin and .bin.gz load too): per sample `prompt_len, answer_len, ids[prompt_len + answer_len]`, the prompt
exactly as kvbench feeds it and the answer followed by EOS. --eval holds records from disjoint seeds, scored
once a minute (teacher-forced exact match: every answer token is the argmax).

--vocab is the tokenizer's size: 2048 for the committed model's tokenizer, 4096 for DIGITS=group (demo_data.sh).
--stages gives each length a share of the time, in order (a quarter of the batches revisit earlier lengths);
--task-weights how often each task fills a batch row. --init continues from a checkpoint; --keyed-recall TABLE
(scripts/keyed_recall_tables.py) mixes in --keyed-recall-share of keyed-recall batches (keyed_recall_rows).
--recall-minutes first trains on MQAR over random tokens (recall_batch; it did not help in our probe).
--drop-kv-group / --drop-kv-positions add head dropout (add_kv_group_dropout, add_kv_position_dropout), which
spreads retrieval over heads (the committed model's stage 2 uses --drop-kv-group 0.3 --drop-at answers).
docs/demo-model.md has both stages' commands and what each setting did.

Model: Llama with GQA (hidden 384, 8 layers, 6 query / 2 KV heads of 64, MLP 1024), the tokenizer's vocabulary,
RoPE theta 10000, context 8192. Loss: answer cross-entropy plus 0.1 x the prompt's language-model loss.
AdamW (betas .9/.95, weight decay .1), 100 warm-up steps, then cosine decay to 10% over the time budget. A
SIGTERM stops training and still saves. Saves an HF checkpoint in bf16 in shards under 15 MB (config.json,
generation_config.json, safetensors) plus tokenizer.model and train_log.json (loss curve, evaluations, recipe).
"""
from __future__ import annotations

import argparse
import gzip
import json
import lzma
import signal
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
    """Records of `kvbench synth --train-out`: .bin (uint32), .bin.gz, or .u16.xz (scripts/pack_records.py)."""
    if path.name.endswith(".u16.xz"):
        words = np.frombuffer(lzma.decompress(path.read_bytes()), dtype="<u2").astype(np.uint32)
    else:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        words = np.frombuffer(raw, dtype="<u4")
    out, i = [], 0
    while i < len(words):
        p, a = int(words[i]), int(words[i + 1])
        ids = words[i + 2:i + 2 + p + a]
        out.append((ids[:p].astype(np.int64), ids[p:].astype(np.int64)))
        i += 2 + p + a
    return out


def record_name(path: Path) -> str:
    return path.name.split(".")[0]


def load_dir(d: Path) -> dict[str, dict[str, list]]:
    """{length bucket: {task: records}} from DIR/L<length>/<task>.<ext> (flat DIR/<task>.<ext> files: bucket '')."""
    out: dict[str, dict[str, list]] = defaultdict(dict)
    for f in sorted(d.rglob("*")):
        if f.is_file() and (f.name.endswith(".u16.xz") or ".bin" in f.name):
            bucket = f.parent.name if f.parent != d else ""
            out[bucket][record_name(f)] = read_records(f)
    return dict(out)


def bucket_length(bucket: str) -> int:
    return int(bucket[1:]) if bucket.startswith("L") and bucket[1:].isdigit() else 0


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


def keyed_recall_rows(table, n_rows: int, length: int, rng: random.Random, bos: int):
    """Many niah needles with distinct keys in filler, then several questions in the niah wording, the loss on
    each answer's digits: the key-matching skill of niah_multikey/multiquery, densely (scripts/
    keyed_recall_tables.py makes the token tables)."""
    P, period = table["pieces"], table["period"]
    rows = []
    for _ in range(n_rows):
        n = rng.randint(4, 16)
        keys = rng.sample(range(len(table["keys"])), n)
        if "digits" in table:
            # Digit-split tokenizers (the committed model's stage 2): any number, as "▁" + one piece per digit.
            spelled = [[table["space"]] + [table["digits"][int(c)] for c in str(rng.randint(1000000, 9999999))]
                       for _ in keys]
            values = [(v + [period], len(v)) for v in spelled]
        else:
            # Any tokenizer: numbers from the bank, as the text writes them ("2845144."). The loss covers the
            # first len(bare number) tokens: the period, or a last group merged with it ("4."), ends the span.
            values = [(w, len(b)) for w, b in (table["values"][rng.randrange(len(table["values"]))] for _ in keys)]
        asked = rng.sample(range(n), rng.randint(2, min(n, 6)))
        questions = []
        for q in asked:
            k = table["keys"][keys[q]]
            questions.append((P["question"] + k + P["answer"] + k + P["tail"], values[q]))
        needles = [P["needle"] + table["keys"][k] + P["is"] + v[0] for k, v in zip(keys, values)]
        room = length - 1 - len(P["instruction"]) - sum(len(a) + len(v) for a, (v, _) in questions) - \
            sum(len(x) for x in needles)
        body = []
        while room > 0:
            sent = table["sentences"][rng.randrange(len(table["sentences"]))]
            body.append(sent)
            room -= len(sent)
        for x in needles:
            body.insert(rng.randint(0, len(body)), x)
        ids = [bos] + P["instruction"] + [t for part in body for t in part]
        is_answer = [False] * len(ids)
        for a, (v, answered) in questions:
            ids += a
            is_answer += [False] * len(a)
            ids += v
            is_answer += [True] * answered + [False] * (len(v) - answered)   # the number, not the period
        rows.append((ids, is_answer))
    return rows


def keyed_recall_batch(table, tokens_per_step: int, length: int, rng: random.Random, bos: int, device):
    rows = keyed_recall_rows(table, max(1, tokens_per_step // length), length, rng, bos)
    T = max(len(r) for r, _ in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    answer = torch.zeros(len(rows), T, dtype=torch.bool)
    prompt = torch.zeros(len(rows), T, dtype=torch.bool)
    for i, (r, is_answer) in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        nxt = torch.tensor(is_answer[1:] + [False])
        answer[i, :len(r)] = nxt
        prompt[i, :len(r) - 1] = ~nxt[:len(r) - 1]
    return ids.to(device), answer.to(device), prompt.to(device)


def losses(model, ids, answer, prompt):
    """Mean answer CE, mean prompt LM CE, and per-row answer CE (for per-task logging); logits for evaluation."""
    logits = model(input_ids=ids).logits[:, :-1].float()
    target = ids[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), reduction="none").view_as(target)
    a, p = answer[:, :-1], prompt[:, :-1]
    per_row = (ce * a).sum(1) / a.sum(1).clamp_min(1)
    return (ce * a).sum() / a.sum().clamp_min(1), (ce * p).sum() / p.sum().clamp_min(1), per_row, logits, target, a


@torch.no_grad()
def evaluate(model, eval_sets, device, per_task=48, tokens_per_batch=65536):
    """Teacher-forced exact match (every answer token, EOS included, is the argmax) per eval set."""
    model.eval()
    acc = {}
    for name, samples in eval_sets.items():
        samples = samples[:per_task]
        batch = max(1, tokens_per_batch // max(len(p) + len(a) for p, a in samples))
        right = 0
        for s in range(0, len(samples), batch):
            chunk = samples[s:s + batch]
            ids, answer, prompt = make_batch(chunk, device)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                _, _, _, logits, target, a = losses(model, ids, answer, prompt)
            right += int(((logits.argmax(-1) == target) | ~a).all(dim=1).sum())
        acc[name] = round(right / max(len(samples), 1), 4)
    model.train()
    return acc


def parse_stages(text: str) -> list[tuple[str, float]]:
    """'256:0.1,512:0.2,...' -> [('L256', 0.1), ...], shares normalized to 1."""
    stages = []
    for part in text.split(","):
        length, share = part.split(":")
        stages.append((f"L{int(length)}", float(share)))
    total = sum(sh for _, sh in stages)
    return [(b, sh / total) for b, sh in stages]


def add_kv_group_dropout(model, p: float, where: dict, everywhere: bool):
    """Head dropout by KV group: in training, each KV head's whole query group (its slice of o_proj's input)
    is dropped with probability p, drawn per row and position, the rest scaled by 1/(1-p): at every position
    with `everywhere`, else only where `where["answers"]` ([batch, T] bool, set before each forward: the
    positions that predict an answer token) is true. A model trained so cannot rely on one head to copy a value: retrieval is
    spread over heads, as in large models, so a policy that keeps a needle in some heads but not in all of
    them (a per-head selection) leaves it readable (docs/demo-model.md, "Head dropout")."""
    cfg = model.config
    hq, hkv = cfg.num_attention_heads, cfg.num_key_value_heads
    d = getattr(cfg, "head_dim", None) or cfg.hidden_size // hq

    def hook(module, inputs):
        (x,) = inputs
        if not module.training:
            return None
        b, t = x.size(0), x.size(1)
        keep = (torch.rand(b, t, hkv, 1, 1, device=x.device) >= p).to(x.dtype) / (1.0 - p)
        if not everywhere:
            keep = torch.where(where["answers"].view(b, t, 1, 1, 1), keep, torch.ones_like(keep))
        return ((x.view(b, t, hkv, hq // hkv, d) * keep).view_as(x),)

    return [layer.self_attn.o_proj.register_forward_pre_hook(hook) for layer in model.model.layers]


def add_kv_position_dropout(q: float, where: dict):
    """Per-head eviction noise: at the positions that predict an answer token (where["answers"]), each KV head
    of each layer sees only a random (1-q) share of the prompt positions (where["prompt"]), one draw per row,
    layer and head, fixed over the row's answer tokens as an evicted cache would be. The model learns to read a
    value from whichever heads still hold it. Wraps the "sdpa" attention function: the other positions are
    computed by it unchanged."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    def attention(module, query, key, value, attention_mask, **kwargs):
        out, weights = sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        if not module.training:
            return out, weights
        pos = where["answers"]
        b_idx, t_idx = pos.nonzero(as_tuple=True)                      # answer-predicting positions, N of them
        n, hq, hkv, t, d = b_idx.numel(), query.size(1), key.size(1), key.size(2), query.size(3)
        scaling = kwargs.get("scaling") or module.scaling
        qa = query[b_idx, :, t_idx].reshape(n, hkv, hq // hkv, d)       # [N, Hkv, rep, D]
        ka, va = key[b_idx], value[b_idx]                               # [N, Hkv, T, D]
        scores = torch.einsum("ngrd,ngtd->ngrt", qa, ka).float() * scaling
        keep_row = torch.rand(pos.size(0), hkv, t, device=query.device) >= q
        evictable = where["prompt"][b_idx][:, None, :]                  # [N, 1, T]
        causal = (torch.arange(t, device=query.device)[None, :] <= t_idx[:, None])[:, None, :]
        visible = causal & (keep_row[b_idx] | ~evictable)               # [N, Hkv, T]
        scores = scores.masked_fill(~visible[:, :, None, :], float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(va.dtype)
        oa = torch.einsum("ngrt,ngtd->ngrd", probs, va).reshape(n, hq, d).to(out.dtype)
        where["position_dropout_calls"] = where.get("position_dropout_calls", 0) + 1
        return out.index_put((b_idx, t_idx), oa), weights

    AttentionInterface.register("sdpa", attention)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True, help="training records: DIR/L<length>/<task>.u16.xz")
    ap.add_argument("--eval", type=Path, help="held-out records, same layout (evaluated once a minute)")
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=8.0, help="training time (evaluation and saving come after)")
    ap.add_argument("--stages", default="256:0.12,512:0.13,1024:0.15,2048:0.15,4096:0.3,8192:0.15",
                    help="length:share of the task time, in order; a stage draws its batches from that length")
    ap.add_argument("--replay", type=float, default=0.25, help="share of batches drawn from an earlier stage")
    ap.add_argument("--task-weights", default="",
                    help="task:weight,... how often a batch row comes from a task (default 1 each)")
    ap.add_argument("--tokens-per-step", type=int, default=65536)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--answer-weight", type=float, default=1.0)
    ap.add_argument("--lm-weight", type=float, default=0.1)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--bos", type=int, default=1)
    ap.add_argument("--eos", type=int, default=2)
    ap.add_argument("--recall-minutes", type=float, default=0.0,
                    help="first train this long on associative recall (recall_batch) before the tasks")
    ap.add_argument("--recall-length", type=int, default=512)
    ap.add_argument("--init", type=Path, help="continue from this HF checkpoint (its config replaces the recipe)")
    ap.add_argument("--keyed-recall", type=Path, help="token tables of scripts/keyed_recall_tables.py")
    ap.add_argument("--keyed-recall-share", type=float, default=0.0, help="share of batches of keyed recall")
    ap.add_argument("--eval-every", type=float, default=60.0, help="seconds between evaluations")
    ap.add_argument("--drop-kv-group", type=float, default=0.0,
                    help="drop each KV head's query group (its attention output) with this probability")
    ap.add_argument("--drop-kv-positions", type=float, default=0.0,
                    help="at answer positions, hide each prompt position from each KV head with this probability")
    ap.add_argument("--drop-at", choices=["answers", "all"], default="answers",
                    help="--drop-kv-group at the positions that predict an answer token, or everywhere")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    device = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True
    # A kill (the device call's time limit) stops training and still saves: nothing is lost.
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))

    from transformers import LlamaConfig, LlamaForCausalLM
    heads = args.hidden // 64
    recipe = dict(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.hidden * 8 // 3 // 64 * 64,
                  num_hidden_layers=args.layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 3),
                  head_dim=64, max_position_embeddings=8192,
                  rope_theta=10000.0, rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False,
                  bos_token_id=args.bos, eos_token_id=args.eos, attention_bias=False, mlp_bias=False)
    fields = {k: v for k, v in recipe.items() if k != "rope_theta"}
    try:  # transformers 5 takes rope_parameters; 4.x rope_theta
        config = LlamaConfig(**fields, rope_parameters={"rope_type": "default", "rope_theta": recipe["rope_theta"]})
    except (TypeError, ValueError):
        config = LlamaConfig(**recipe)
    config._attn_implementation = "sdpa"
    if args.init:
        model = LlamaForCausalLM.from_pretrained(args.init, torch_dtype=torch.float32).to(device)
        config = model.config
        recipe = dict(recipe, init=str(args.init), **{k: getattr(config, k) for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "max_position_embeddings")})
    else:
        model = LlamaForCausalLM(config).to(device)
    drop_where: dict = {}   # this batch's answer and prompt masks, for the head-dropout options
    drop_hooks = []
    if args.drop_kv_group > 0:
        drop_hooks = add_kv_group_dropout(model, args.drop_kv_group, drop_where, everywhere=args.drop_at == "all")
    if args.drop_kv_positions > 0:
        add_kv_position_dropout(args.drop_kv_positions, drop_where)
    table = json.loads(args.keyed_recall.read_text()) if args.keyed_recall else None
    params = sum(p.numel() for p in model.parameters())
    print(f"[train] {params / 1e6:.1f}M parameters, {recipe}", flush=True)

    t_load = time.time()
    data = load_dir(args.data)
    stages = [(b, sh) for b, sh in parse_stages(args.stages) if b in data]
    if not stages:
        raise SystemExit(f"no training records for the stages {args.stages} under {args.data} (have {sorted(data)})")
    weights = {t: float(w) for t, w in (kv.split(":") for kv in args.task_weights.split(",") if kv)}
    pools = {b: [(t, recs) for t, recs in sorted(data[b].items()) if weights.get(t, 1.0) > 0] for b, _ in stages}
    pool_weights = {b: [weights.get(t, 1.0) for t, _ in pools[b]] for b in pools}
    evals = load_dir(args.eval) if args.eval else {}
    eval_sets = {f"{b}/{t}" if b else t: recs for b, tasks in sorted(evals.items(), key=lambda kv: bucket_length(kv[0]))
                 for t, recs in tasks.items()}
    tokens = sum(len(p) + len(a) for pool in pools.values() for _, recs in pool for p, a in recs)
    print(f"[train] stages {[(b, round(sh, 3), sum(len(r) for _, r in pools[b])) for b, sh in stages]}, "
          f"task weights {weights or 'equal'}, {tokens / 1e6:.1f}M tokens, "
          f"loaded in {time.time() - t_load:.0f}s", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    budget = args.minutes * 60
    warmup = 100
    log = {"recipe": dict(recipe, lr=args.lr, tokens_per_step=args.tokens_per_step, minutes=args.minutes,
                          stages=args.stages, replay=args.replay, task_weights=args.task_weights,
                          keyed_recall_share=args.keyed_recall_share if table else 0.0,
                          drop_kv_group=args.drop_kv_group, drop_at=args.drop_at,
                          drop_kv_positions=args.drop_kv_positions, recall_minutes=args.recall_minutes,
                          recall_length=args.recall_length,
                          loss=f"{args.answer_weight} x answer CE + {args.lm_weight} x prompt LM CE",
                          optimizer="AdamW(.9,.95) wd .1",
                          schedule=f"linear warm-up {warmup} steps, cosine to 10% over the time budget"),
           "parameters": params, "train_tokens": tokens, "steps": [], "evals": []}

    model.train()  # from_pretrained (--init) returns the model in eval mode
    t0 = time.time()
    step = seen_tokens = 0
    next_eval = args.eval_every
    task_loss: dict[str, list[float]] = defaultdict(list)
    while not stop["now"]:
        elapsed = time.time() - t0
        if elapsed > budget:
            break
        recall = elapsed < args.recall_minutes * 60
        if recall:
            ids, answer, prompt = recall_batch(args.tokens_per_step, args.recall_length, args.vocab, device)
            tasks, bucket = ["recall"] * ids.size(0), f"L{args.recall_length}"
        elif table and rng.random() < args.keyed_recall_share:
            bucket = f"L{rng.choice([512, 1024, 2048])}"
            ids, answer, prompt = keyed_recall_batch(table, args.tokens_per_step, bucket_length(bucket), rng, args.bos,
                                                     device)
            tasks = ["keyed_recall"] * ids.size(0)
        else:
            f = (elapsed - args.recall_minutes * 60) / max(budget - args.recall_minutes * 60, 1.0)
            k, acc = 0, stages[0][1]
            while k + 1 < len(stages) and f >= acc:
                k += 1
                acc += stages[k][1]
            if k > 0 and rng.random() < args.replay:
                k = rng.randrange(k)
            bucket = stages[k][0]
            pool = pools[bucket]
            length = bucket_length(bucket) or max(len(p) + len(a) for p, a in pool[0][1][:64])
            rows = max(1, args.tokens_per_step // int(length * 1.05))
            picked = []
            for t, recs in rng.choices(pool, weights=pool_weights[bucket], k=rows):
                picked.append((t, recs[rng.randrange(len(recs))]))
            tasks = [t for t, _ in picked]
            ids, answer, prompt = make_batch([s for _, s in picked], device)
        lr = args.lr * (step + 1) / warmup if step < warmup else \
            args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget))))
        for g in opt.param_groups:
            g["lr"] = lr
        drop_where.update(answers=answer, prompt=prompt)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            la, lp, per_row, _, _, _ = losses(model, ids, answer, prompt)
            loss = args.answer_weight * la + args.lm_weight * lp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen_tokens += int(ids.numel())
        step += 1
        if step % 10 == 0:
            for t, l in zip(tasks, per_row.tolist()):
                task_loss[t].append(l)
        if step % 50 == 0:
            rec = {"step": step, "seconds": round(time.time() - t0, 1), "tokens": seen_tokens, "stage": bucket,
                   "lr": round(lr, 6), "answer_loss": round(la.item(), 4), "lm_loss": round(lp.item(), 4),
                   "task_answer_loss": {t: round(sum(v) / len(v), 3) for t, v in sorted(task_loss.items())}}
            task_loss.clear()
            log["steps"].append(rec)
            print("[train]", json.dumps(rec), flush=True)
        if eval_sets and time.time() - t0 > next_eval:
            acc = evaluate(model, eval_sets, device)
            log["evals"].append({"step": step, "seconds": round(time.time() - t0, 1), "accuracy": acc})
            print("[eval]", json.dumps(log["evals"][-1]), flush=True)
            next_eval = time.time() - t0 + args.eval_every
    if eval_sets:
        acc = evaluate(model, eval_sets, device)
        log["evals"].append({"step": step, "seconds": round(time.time() - t0, 1), "accuracy": acc, "final": True})
        print("[eval-final]", json.dumps(log["evals"][-1]), flush=True)

    for h in drop_hooks:
        h.remove()
    if args.drop_kv_positions > 0:
        print(f"[train] kv-position dropout ran in {drop_where.get('position_dropout_calls', 0)} attention calls")
    args.out.mkdir(parents=True, exist_ok=True)
    # Shards under 15 MB: the device tool returns files of at most 16 MiB.
    model.to(torch.bfloat16).save_pretrained(args.out, safe_serialization=True, max_shard_size="15MB")
    shutil.copy(args.tokenizer, args.out / "tokenizer.model")
    (args.out / "train_log.json").write_text(json.dumps(log, indent=1))
    print(f"[train] saved {args.out} after {step} steps, {seen_tokens / 1e6:.1f}M tokens", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
