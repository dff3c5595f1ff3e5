#!/usr/bin/env python3
"""Eviction-policy parity against HF transformers, and the cost of compression at 32k tokens.

    python3 tests/gpu/policy_parity.py --kvbench build-gpu/kvbench --workdir /tmp/pp [--out results.json]
        [--skip-cost] [--policies snapkv,adakv,kvec] [--cost-policies snapkv,adakv,kvec,h2o]

1. parity: on the Llama-3.1-style random checkpoint of hf_parity.py (GQA 8/2, llama3 rope scaling), kvbench
   generates 64 greedy tokens from 512-token prompts with snapkv, adakv and kvec at budget 128 and prints
   the kept positions of every layer and KV head. HF then decodes the same prompt with full-attention prefill
   and, at every decode step, a per-layer, per-head additive mask that hides exactly the prompt positions
   kvbench evicted for that layer and KV head (each query head uses its KV head's set; original position ids).
   Tokens must be identical; the step logits difference is reported; and HF's masked step logits must differ
   from its unmasked ones, so a mask HF ignored would fail the check.
2. cost (unless --skip-cost): a random-weights checkpoint with the exact Llama-3.1-8B shape in bf16, one
   32,768-token prompt prefilled once by `kvbench run` for snapkv, adakv, kvec and h2o at budget 128, after a
   warm-up of the same length (CUDA loads kernels on first use; that one-time cost is not compression) (each
   policy's compression timed with the device synchronized around it). Reports compression time / prefill
   time per policy (the acceptance bound: < 5% for snapkv, adakv, kvec; h2o reported).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_parity as hp  # noqa: E402

POLICIES = ["snapkv", "adakv", "kvec"]
BUDGET = 128


def kvbench_generate(binary: str, model_dir: Path, ids: list[int], policy: str) -> tuple[dict, torch.Tensor]:
    logits = model_dir / "steps.safetensors"
    cmd = [binary, "--log-level", "warn", "generate", "--model", str(model_dir), "--prompt-ids", ",".join(map(str, ids)),
           "--max-new", str(hp.NEW_TOKENS), "--ignore-eos", "--device", "cuda", "--dtype", "f32",
           "--logits-out", str(logits), "--json", "--policy", policy, "--budget", str(BUDGET)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kvbench failed: {proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    steps = hp.load_file(str(logits))["step_logits"].float()
    logits.unlink()
    return result, steps


def visibility_hooks(modules, allowed: list, T: int, state: dict) -> list:
    """Forward pre-hooks on each layer's attention module: once state["kv_len"] is set (decode steps), an additive
    mask [1, Hq, 1, kv_len] hides the prompt positions allowed[l] ([Hq, T] bool, one row per query head) does not
    hold; generated tokens stay visible. Returns the hook handles."""
    def make_hook(l):
        def hook(module, args, kwargs):
            if state["kv_len"] is None:
                return args, kwargs
            mask = torch.zeros(1, allowed[l].shape[0], 1, state["kv_len"], dtype=torch.float32, device=allowed[l].device)
            mask[0, :, 0, :T].masked_fill_(~allowed[l], float("-inf"))
            kwargs["attention_mask"] = mask
            return args, kwargs
        return hook
    return [m.register_forward_pre_hook(make_hook(l), with_kwargs=True) for l, m in enumerate(modules)]


@torch.no_grad()
def hf_masked_decode(model, ids: list[int], kept: list[list[list[int]]] | None, n_new: int):
    """Full-attention prefill, then greedy decode where layer l's query head i sees only the prompt positions
    kept[l][i // g] (and every generated token). kept None: no mask. Returns (tokens, step_logits)."""
    cfg = model.config
    Hq, Hkv = cfg.num_attention_heads, cfg.num_key_value_heads
    g = Hq // Hkv
    T = len(ids)
    dev = next(model.parameters()).device
    state = {"kv_len": None}
    hooks = []
    if kept is not None:
        allowed = []
        for layer in kept:
            a = torch.zeros(Hq, T, dtype=torch.bool, device=dev)
            for i in range(Hq):
                a[i, torch.tensor(layer[i // g], dtype=torch.long, device=dev)] = True
            allowed.append(a)
        hooks = visibility_hooks([layer.self_attn for layer in model.model.layers], allowed, T, state)
    try:
        out = model(input_ids=torch.tensor([ids], device=dev), use_cache=True)
        cache, logits = out.past_key_values, out.logits[0, -1].float()
        tokens, steps = [], []
        for i in range(n_new):
            tok = int(torch.argmax(logits))
            tokens.append(tok)
            steps.append(logits)
            if i + 1 == n_new:
                break
            state["kv_len"] = T + i + 1
            out = model(input_ids=torch.tensor([[tok]], device=dev), position_ids=torch.tensor([[T + i]], device=dev),
                        past_key_values=cache, use_cache=True)
            cache, logits = out.past_key_values, out.logits[0, -1].float()
        return tokens, torch.stack(steps).cpu()
    finally:
        for h in hooks:
            h.remove()


def parity(args) -> dict:
    model_dir = args.workdir / "llama31"
    hp.build_checkpoint("llama31", model_dir, seed=11)
    model = hp.load_hf(model_dir, "cuda", "eager")
    gen = torch.Generator().manual_seed(5)
    prompts = [torch.randint(3, hp.VOCAB, (n,), generator=gen).tolist() for n in (512, 1024)]
    results = {}
    for policy in args.policies:
        rows = []
        for ids in prompts:
            kv, kv_steps = kvbench_generate(args.kvbench, model_dir, ids, policy)
            kept = kv["kept"]
            sizes = [len(h) for layer in kept for h in layer]
            hf_tokens, hf_steps = hf_masked_decode(model, ids, kept, hp.NEW_TOKENS)
            _, hf_unmasked = hf_masked_decode(model, ids, None, 2)
            n = min(len(hf_tokens), len(kv["output_ids"]))
            first = hp.first_mismatch(hf_tokens, kv["output_ids"])
            upto = n if first is None else first + 1
            rows.append({"prompt_len": len(ids), "identical": first is None and len(hf_tokens) == len(kv["output_ids"]),
                         "first_mismatch": first,
                         "step_logits_max_abs": (hf_steps[:upto] - kv_steps[:upto]).abs().max().item(),
                         "kept_per_head_min_max": [min(sizes), max(sizes)],
                         "kept_total_per_layer": [sum(len(h) for h in layer) for layer in kept],
                         "mask_effect": (hf_steps[1] - hf_unmasked[1]).abs().max().item(),
                         "policy": kv["policy"]})
        ok = all(r["identical"] and r["mask_effect"] > 1e-2 for r in rows)
        results[policy] = {"status": "PASS" if ok else "FAIL", "prompts": rows}
        print(f"[parity] {policy}: {results[policy]['status']} "
              f"{[(r['prompt_len'], r['identical'], round(r['step_logits_max_abs'], 6), r['kept_per_head_min_max']) for r in rows]}",
              flush=True)
    return results


def write_8b_checkpoint(model_dir: Path) -> None:
    """A random-weights checkpoint with the exact Llama-3.1-8B shape, bf16 (written once per workdir)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    if (model_dir / "config.json").exists():
        return
    t0 = time.time()
    config = hp.make_config(LlamaConfig, dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                                              num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                              max_position_embeddings=131072, rms_norm_eps=1e-5, hidden_act="silu",
                                              tie_word_embeddings=False),
                            dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                 high_freq_factor=4.0, original_max_position_embeddings=8192))
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    del model
    torch.cuda.empty_cache()
    print(f"[8b] wrote an 8B-shaped random checkpoint in {time.time() - t0:.0f}s", flush=True)


def timing_rows(run_dir: Path, variant: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "timing" / variant / "prompt.jsonl").read_text().splitlines()]


def cost(args) -> dict:
    model_dir = args.workdir / "llama31_8b"
    write_8b_checkpoint(model_dir)
    config_path = args.workdir / "cost.json"
    run_dir = args.workdir / "cost"
    policies = args.cost_policies
    config_path.write_text(json.dumps({
        "name": "compression-cost", "output_dir": str(run_dir),
        "model": {"path": str(model_dir), "device": "cuda", "dtype": "bf16"},
        "prompt": {"random_ids": {"tokens": 32768, "seed": 3}}, "max_new_tokens": 4, "warmup_tokens": 32768,
        "policies": [{"name": p, "budget": BUDGET} for p in policies]}))
    proc = subprocess.run([args.kvbench, "--log-level", "warn", "run", "--config", str(config_path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    # One prefill fed all four policies: it includes every policy's compression, timed separately.
    rows = {p: timing_rows(run_dir, f"{p}-{BUDGET}")[0] for p in policies}
    prefill = rows[policies[0]]["prefill_seconds"]
    base = prefill - sum(r["compression_seconds"] for r in rows.values())
    out = {p: {"compression_seconds": r["compression_seconds"], "share_of_prefill": r["compression_seconds"] / base}
           for p, r in rows.items()}
    result = {"prompt_tokens": rows[policies[0]]["prompt_tokens"], "prefill_seconds_without_compression": base,
              "policies": out}
    print("[cost]", json.dumps(result), flush=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-parity", action="store_true")
    ap.add_argument("--policies", default=",".join(POLICIES), help="parity against HF masked attention")
    ap.add_argument("--cost-policies", default="snapkv,adakv,kvec,h2o", help="compression cost at 32k")
    args = ap.parse_args()
    args.policies = args.policies.split(",")
    args.cost_policies = args.cost_policies.split(",")
    args.workdir.mkdir(parents=True, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    results = {"parity": {} if args.skip_parity else parity(args)}
    ok = all(r["status"] == "PASS" for r in results["parity"].values())
    if not args.skip_cost:
        results["cost"] = cost(args)
        for name in ("snapkv", "adakv", "kvec"):
            if name in results["cost"]["policies"]:
                ok &= results["cost"]["policies"][name]["share_of_prefill"] < 0.05
    print("\npolicy   parity   compression share of prefill at 32k")
    for name in dict.fromkeys(args.policies + args.cost_policies):
        share = results.get("cost", {}).get("policies", {}).get(name, {}).get("share_of_prefill")
        print(f"{name:8} {results['parity'].get(name, {}).get('status', '-'):8} {'-' if share is None else f'{100 * share:.2f}%'}")
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
