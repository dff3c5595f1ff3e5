#!/usr/bin/env python3
"""cuDNN causal GQA attention (32 query / 8 KV heads, d 128, bf16) at 32k tokens with q, k and v stored
head-major ([H, T, d], kvbench's old prefill layout), token-major ([T, H, d], HF's), and q token-major with k/v
head-major (kvbench's prefill now): time per call and the output's strides (does [T, Hq d] need a copy?).

    python3 tests/gpu/sdpa_layouts.py [--tokens 32768] [--out FILE]
"""
from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def timed(fn, reps: int = 10) -> float:
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps / 1e3


def tensor(heads: int, T: int, token_major: bool) -> torch.Tensor:
    if token_major:
        return torch.randn(1, T, heads, 128, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    return torch.randn(1, heads, T, 128, device="cuda", dtype=torch.bfloat16)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=32768)
    ap.add_argument("--out")
    args = ap.parse_args()
    T, r = args.tokens, {}
    for name, q_tm, kv_tm in (("all head-major", False, False), ("all token-major", True, True),
                              ("q token-major, k/v head-major", True, False)):
        torch.manual_seed(0)
        q, k, v = tensor(32, T, q_tm), tensor(8, T, kv_tm), tensor(8, T, kv_tm)
        for backend in ("CUDNN_ATTENTION", "FLASH_ATTENTION"):
            try:
                with sdpa_kernel(getattr(SDPBackend, backend)):
                    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
                    t = timed(fn)
                    out = fn()
                    t_copy = timed(lambda: fn().squeeze(0).transpose(0, 1).reshape(T, 32 * 128))
                r[f"{name} / {backend}"] = {"seconds": t, "with_reshape_seconds": t_copy,
                                            "TFLOPs": 2 * T * T * 128 * 32 / t / 1e12, "out_strides": list(out.stride())}
            except Exception as e:  # a backend that refuses these inputs says why
                r[f"{name} / {backend}"] = {"error": str(e).splitlines()[0][:200]}
            print(name, backend, r[f"{name} / {backend}"], flush=True)
        del q, k, v
    if args.out:
        with open(args.out, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
