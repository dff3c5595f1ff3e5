#!/usr/bin/env python3
"""Issue 31's performance bound: an 8B-class model of each new family beside a Llama of the same shape.

    python3 tests/gpu/bench_families.py --kvbench build-gpu/kvbench --workdir /tmp/fam [--families qwen3,gemma2]
        [--lengths 8192,32768] [--samples 2] [--new-tokens 64] [--layers N] [--moe-twin active|total]
        [--policies full,snapkv|full] [--out FILE]

For each family it writes (with transformers, random weights, bf16, on the GPU) a checkpoint of the real model's
shape and a LlamaForCausalLM of exactly the same shape (layers, hidden, heads, KV heads, head_dim, intermediate
size, vocabulary: the same parameter count and KV size), runs `kvbench bench --json` on each (by default the full
cache and snapkv at budget 1024, decoded in one batch; `--policies full` decodes one sequence), and prints
family / Llama for the prefill time and the median decode step. The bound: prefill <= 1.15x, decode <= 1.2x.
Checkpoints are deleted after their pair is measured (disk). Measured figures and the reasons for the misses:
docs/performance.md, "Model families". Mixtral and Qwen3-MoE stand beside a Llama of the same active parameters
per token (an MLP as wide as the top-k experts, ACTIVE_MLP) or, with --moe-twin total, of the same parameter
count (as wide as all experts).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_parity as hp  # noqa: E402

# name -> (config class, fields, rope parameters in transformers-5 form, transformers-4 rope or None)
FAMILIES = {
    "qwen3": ("Qwen3Config", dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                                  num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                                  max_position_embeddings=40960, rms_norm_eps=1e-6, tie_word_embeddings=False),
              dict(rope_type="default", rope_theta=1000000.0), None),
    "gemma2": ("Gemma2Config", dict(vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                                    num_attention_heads=16, num_key_value_heads=8, head_dim=256,
                                    query_pre_attn_scalar=256, sliding_window=4096, attn_logit_softcapping=50.0,
                                    final_logit_softcapping=30.0, max_position_embeddings=8192),
               dict(rope_type="default", rope_theta=10000.0), None),
    "gemma3": ("Gemma3TextConfig", dict(vocab_size=262208, hidden_size=3840, intermediate_size=15360,
                                        num_hidden_layers=48, num_attention_heads=16, num_key_value_heads=8,
                                        head_dim=256, query_pre_attn_scalar=256, sliding_window=1024,
                                        max_position_embeddings=131072),
               {"full_attention": dict(rope_type="linear", rope_theta=1000000.0, factor=8.0),
                "sliding_attention": dict(rope_type="default", rope_theta=10000.0)},
               dict(rope_theta=1000000.0, rope_local_base_freq=10000.0, rope_scaling=dict(rope_type="linear", factor=8.0))),
    "phi3": ("Phi3Config", dict(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                                num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=131072,
                                original_max_position_embeddings=4096, sliding_window=262144),
             dict(rope_type="longrope", rope_theta=10000.0, original_max_position_embeddings=4096,
                  short_factor=[1.0] * 48, long_factor=[1.0 + 0.1 * i for i in range(48)]), None),
    "mistral_v01": ("MistralConfig", dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                                          num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                          sliding_window=4096, max_position_embeddings=32768),
                    dict(rope_type="default", rope_theta=10000.0), None),
    # Mixtures of experts, beside a Llama of the same attention and KV size whose MLP is as wide as the experts a
    # token runs through (top-k x the expert's width): the same active parameters per token.
    "mixtral": ("MixtralConfig", dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                      num_attention_heads=32, num_key_value_heads=8, num_local_experts=8,
                                      num_experts_per_tok=2, sliding_window=None, max_position_embeddings=32768),
                dict(rope_type="default", rope_theta=1000000.0), None),
    "qwen3_moe": ("Qwen3MoeConfig", dict(vocab_size=151936, hidden_size=2048, intermediate_size=6144,
                                         moe_intermediate_size=768, num_hidden_layers=48, num_attention_heads=32,
                                         num_key_value_heads=4, head_dim=128, num_experts=128, num_experts_per_tok=8,
                                         norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
                                         max_position_embeddings=40960, tie_word_embeddings=False),
                  dict(rope_type="default", rope_theta=1000000.0), None),
}

# The Llama twin's MLP width for the mixtures of experts: what one token runs through.
ACTIVE_MLP = {"mixtral": 2 * 14336, "qwen3_moe": 8 * 768}


def write(cls_name: str, fields: dict, rope, rope4, out: Path) -> None:
    from transformers import AutoModelForCausalLM
    if (out / "config.json").exists():
        return
    config = hp.make_config(hp._cfg(cls_name), fields, rope, rope4)
    torch.manual_seed(0)
    t0 = time.time()
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    model.save_pretrained(out)
    del model
    torch.cuda.empty_cache()
    print(f"  wrote {out.name} ({cls_name}) in {time.time() - t0:.0f}s", flush=True)


def llama_twin(fields: dict, name: str = "", moe_twin: str = "active") -> dict:
    """A Llama with the family's shape: the same parameter count (up to norms) and KV size. For a mixture of
    experts, moe_twin "active": an MLP as wide as the experts one token runs through (ACTIVE_MLP, the same
    active parameters per token); "total": as wide as all its experts together (the same parameter count)."""
    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "max_position_embeddings")
    twin = {k: fields[k] for k in keys if k in fields}
    if name in ACTIVE_MLP:
        experts = fields.get("num_local_experts", fields.get("num_experts"))
        top_k = fields["num_experts_per_tok"]
        twin["intermediate_size"] = ACTIVE_MLP[name] if moe_twin == "active" else ACTIVE_MLP[name] // top_k * experts
    twin.setdefault("head_dim", fields["hidden_size"] // fields["num_attention_heads"])
    return {**twin, "rms_norm_eps": 1e-5, "hidden_act": "silu", "tie_word_embeddings": False}


def bench(args, model: Path) -> dict:
    cmd = [args.kvbench, "--log-level", "warn", "bench", "--model", str(model), "--device", "cuda", "--dtype", "bf16",
           "--prompt-tokens", args.lengths, "--samples", str(args.samples), "--new-tokens", str(args.new_tokens),
           "--json"]
    for policy in args.policies.split(","):
        cmd += ["--policy", policy]
    if "snapkv" in args.policies.split(","):
        cmd += ["--budget", "1024"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kvbench bench failed on {model.name}: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ratios(family: dict, llama: dict) -> list[dict]:
    rows = []
    for f_row, l_row in zip(family["lengths"], llama["lengths"]):
        row = {"prompt_tokens": f_row["prompt_tokens"],
               "prefill_ratio": f_row["prefill_seconds"]["median"] / l_row["prefill_seconds"]["median"]}
        for fv, lv in zip(f_row["variants"], l_row["variants"]):
            row[f"decode_ratio[{fv['name']}]"] = fv["decode_ms_per_step"]["median"] / lv["decode_ms_per_step"]["median"]
            row[f"decode_path[{fv['name']}]"] = f"{fv['decode_path']} vs {lv['decode_path']}"
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--workdir", required=True, type=Path)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--lengths", default="8192,32768")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--layers", type=int, default=0,
                    help="decoder layers of both checkpoints (0: the real model's). Fewer layers keep the per-layer "
                         "comparison but give the embeddings and LM head (the same on both sides) a larger share, "
                         "so ratios move towards 1; Gemma 3 keeps whole 6-layer groups (5 local : 1 global)")
    ap.add_argument("--moe-twin", choices=("active", "total"), default="active",
                    help="the Llama beside a mixture of experts: the same active parameters per token, or the same "
                         "parameter count (all experts)")
    ap.add_argument("--policies", default="full,snapkv", choices=("full,snapkv", "full"),
                    help="full,snapkv decodes both variants in one batch of 2 per sample; full alone decodes a batch "
                         "of 1 (a mixture of experts then reads the experts of one token per step, not of two)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}", flush=True)
    results, failed = {}, 0
    for name in args.families.split(","):
        cls_name, fields, rope, rope4 = FAMILIES[name]
        if args.layers > 0:
            group = 6 if name == "gemma3" else 2 if name == "gemma2" else 1
            fields = {**fields, "num_hidden_layers": max(group, args.layers // group * group)}
        fam_dir, llama_dir = args.workdir / name, args.workdir / f"{name}_llama"
        try:
            write(cls_name, fields, rope, rope4, fam_dir)
            theta = rope["full_attention"]["rope_theta"] if "full_attention" in rope else rope["rope_theta"]
            write("LlamaConfig", llama_twin(fields, name, args.moe_twin), dict(rope_type="default", rope_theta=theta), None, llama_dir)
            fam, llama = bench(args, fam_dir), bench(args, llama_dir)
            results[name] = {"family": fam, "llama": llama, "ratios": ratios(fam, llama)}
            for r in results[name]["ratios"]:
                print(f"[{name}] {json.dumps(r)}", flush=True)
        except Exception as e:  # one family failing must not stop the others
            failed += 1
            results[name] = {"error": f"{type(e).__name__}: {e}"[:2000]}
            print(f"[{name}] FAILED: {results[name]['error']}", flush=True)
        finally:
            for d in (fam_dir, llama_dir):
                shutil.rmtree(d, ignore_errors=True)
    print("\nfamily       prompt  prefill  decode(full)  decode(snapkv)  bound 1.15 / 1.2")
    for name, r in results.items():
        for row in r.get("ratios", []):
            full, snap = row.get("decode_ratio[full]", float("nan")), row.get("decode_ratio[snapkv-1024]", float("nan"))
            ok = row["prefill_ratio"] <= 1.15 and full <= 1.2 and not snap > 1.2  # snap is nan when not run
            print(f"{name:<12} {row['prompt_tokens']:>6}  {row['prefill_ratio']:7.2f}  {full:12.2f}  {snap:14.2f}  "
                  f"{'met' if ok else 'NOT met'}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return failed


if __name__ == "__main__":
    sys.exit(main())
