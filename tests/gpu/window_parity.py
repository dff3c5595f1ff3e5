#!/usr/bin/env python3
"""Sliding-window and soft-capped prefill kernels at the real models' attention shapes, against HF in float32.

    python3 tests/gpu/window_parity.py --kvbench build/kvbench --workdir /tmp/winpar [--out FILE]

hf_parity.py checks every family at hidden 512 with head_dim 128. This checks the windowed prefill kernels where
users run them: Gemma 3 12B's attention (16 heads of 256, 8 KV heads, window 1,024, 5 local : 1 global) and
Mistral v0.1's (32 heads of 128, 8 KV heads, window 4,096) and Gemma 2 9B's (16 heads of 256, soft-cap 50, a
4,096-token window on its first layer, none on its second), each over a prompt two to four windows long, with a
few layers and a 32k vocabulary so that the logits fit. Weights are unit-scale (hf_parity.reinit_). kvbench runs
in bf16 twice: on its default paths (flash's band kernel, kvbench's soft-cap kernel) and with
KVBENCH_WINDOW_ATTENTION=chunked KVBENCH_SOFTCAP_ATTENTION=chunked. Each must pass hf_parity's bf16 logits gate: no further from HF f32's prompt
logits than HF's own bf16 (mean |d| <= 1.5x HF bf16's; max |d| <= the larger of 1.5x HF bf16's and 5% of the
largest logit). Exits 0 iff both pass for every case.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hf_parity as hp  # noqa: E402

# name -> (config class, fields, rope parameters (transformers 5), rope for transformers 4, prompt tokens)
CASES = {
    "gemma3_12b_attention": (
        "Gemma3TextConfig",
        dict(vocab_size=32768, hidden_size=3840, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=16,
             num_key_value_heads=8, head_dim=256, query_pre_attn_scalar=256, sliding_window=1024,
             max_position_embeddings=131072),
        {"full_attention": dict(rope_type="linear", rope_theta=1000000.0, factor=8.0),
         "sliding_attention": dict(rope_type="default", rope_theta=10000.0)},
        dict(rope_theta=1000000.0, rope_local_base_freq=10000.0, rope_scaling=dict(rope_type="linear", factor=8.0)),
        4096),
    "gemma2_9b_attention": (
        "Gemma2Config",
        dict(vocab_size=32768, hidden_size=3584, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=16,
             num_key_value_heads=8, head_dim=256, query_pre_attn_scalar=256, sliding_window=4096,
             attn_logit_softcapping=50.0, final_logit_softcapping=30.0, max_position_embeddings=8192),
        dict(rope_type="default", rope_theta=10000.0), None, 8192),
    "mistral_v01_attention": (
        "MistralConfig",
        dict(vocab_size=32000, hidden_size=4096, intermediate_size=1024, num_hidden_layers=3, num_attention_heads=32,
             num_key_value_heads=8, sliding_window=4096, max_position_embeddings=32768),
        dict(rope_type="default", rope_theta=10000.0), None, 8192),
}


def write(cls_name: str, fields: dict, rope, rope4, out: Path) -> None:
    hp.write_checkpoint(hp.make_config(hp._cfg(cls_name), fields, rope, rope4), out, seed=0)


@torch.no_grad()
def hf_logits(model_dir: Path, ids: list[int], dtype) -> torch.Tensor:
    model = hp.load_hf(model_dir, "cuda", "eager", dtype)
    out = model(input_ids=torch.tensor([ids], device="cuda"), use_cache=False).logits[0].float().cpu()
    del model
    torch.cuda.empty_cache()
    return out


SWITCHES = ("KVBENCH_WINDOW_ATTENTION", "KVBENCH_SOFTCAP_ATTENTION")


def kvbench_logits(args, model_dir: Path, ids: list[int], mode: str) -> torch.Tensor:
    """mode "fused": kvbench's defaults (flash's band, kvbench's soft-cap kernel); "chunked": both switched off."""
    before = {k: os.environ.get(k) for k in SWITCHES}
    for k in SWITCHES:
        if mode == "chunked":
            os.environ[k] = "chunked"
        else:
            os.environ.pop(k, None)
    try:
        _, prompt, _ = hp.run_kvbench(args.kvbench, model_dir, ids, "cuda", args.workdir / "logits.safetensors",
                                      ["--policy", "full"])
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return prompt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--workdir", required=True, type=Path)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    hp.RUN_DTYPE, hp.NEW_TOKENS = "bf16", 2
    results, ok = {}, True
    for name in args.cases.split(","):
        cls_name, fields, rope, rope4, T = CASES[name]
        model_dir = args.workdir / name
        write(cls_name, fields, rope, rope4, model_dir)
        ids = torch.randint(0, fields["vocab_size"], (T,), generator=torch.Generator().manual_seed(T)).tolist()
        f32 = hf_logits(model_dir, ids, torch.float32)
        hf_bf16 = hf_logits(model_dir, ids, torch.bfloat16)
        results[name] = {}
        for mode in ("fused", "chunked"):
            kv = kvbench_logits(args, model_dir, ids, mode)
            r = hp.bf16_logits_check([f32], [hf_bf16], [kv], [(hf_bf16 - kv).abs().max().item()])
            r["argmax_agreement_with_f32"] = (kv.argmax(-1) == f32.argmax(-1)).float().mean().item()
            results[name][mode] = r
            ok = ok and r["status"] == "PASS"
            print(f"{name:24s} {mode:8s} {r['status']}  vs HF f32: max|d| {r['max_abs']:.2e} (HF bf16 "
                  f"{r['hf_bf16_max_abs']:.2e}), mean|d| {r['mean_abs']:.2e} (HF bf16 {r['hf_bf16_mean_abs']:.2e}), "
                  f"argmax = f32's at {100 * r['argmax_agreement_with_f32']:.1f}% of {T} positions", flush=True)
        hf_arg = (hf_bf16.argmax(-1) == f32.argmax(-1)).float().mean().item()
        print(f"{name:24s} HF bf16: argmax = f32's at {100 * hf_arg:.1f}%", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
