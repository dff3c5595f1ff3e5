#!/usr/bin/env python3
"""The ceilings docs/performance.md measures kvbench against, on the GPU machine (no kvbench involved):

    python3 tests/gpu/microbench.py [--out FILE]

  copy      device-to-device copy of 4 GiB: bytes read + written per second (the memory-bandwidth ceiling)
  gemm      bf16 [8192, 4096] x [4096, 14336]: TFLOP/s (the matrix ceiling)
  gemv      bf16 x [B, 4096] x W^T for the Llama-3.1-8B layer shapes and the LM head, B = 1 and 8, inside
            a CUDA graph of 20 calls (no launch gaps): GB/s of weights read (what decode is bound by)
  sdpa      causal GQA attention (32 query / 8 KV heads, d 128, bf16) at 8k and 32k tokens with each SDPA
            backend torch offers: seconds and TFLOP/s (2 T^2 d Hq, the causal half)
Random inputs (never zeros), medians of CUDA-event timings after a warm-up.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def timed(fn, reps: int = 10) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    return sorted(times)[len(times) // 2]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    r: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    src = torch.randn(2**30, device="cuda")  # 4 GiB of float32
    dst = torch.empty_like(src)
    t = timed(lambda: dst.copy_(src))
    r["copy_GBps"] = 2 * src.numel() * 4 / t / 1e9
    del src, dst
    a = torch.randn(8192, 4096, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(4096, 14336, device="cuda", dtype=torch.bfloat16)
    t = timed(lambda: a @ b)
    r["gemm_TFLOPs"] = 2 * 8192 * 4096 * 14336 / t / 1e12
    shapes = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336),
              "lm_head": (128256, 4096)}
    r["gemv_GBps"] = {}
    for name, (n, k) in shapes.items():
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        for batch in (1, 8):
            x = torch.randn(batch, k, device="cuda", dtype=torch.bfloat16)
            g = torch.cuda.CUDAGraph()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    y = x @ w.t()
            torch.cuda.current_stream().wait_stream(s)
            with torch.cuda.graph(g):
                for _ in range(20):
                    y = x @ w.t()
            t = timed(g.replay) / 20
            r["gemv_GBps"][f"{name}_b{batch}"] = w.numel() * 2 / t / 1e9
        del w
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    r["sdpa"] = {}
    for T in (8192, 32768):
        q = torch.randn(1, 32, T, 128, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(1, 8, T, 128, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(1, 8, T, 128, device="cuda", dtype=torch.bfloat16)
        ref = None
        for backend in ("FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION", "DEFAULT"):
            if backend != "DEFAULT" and not hasattr(SDPBackend, backend):
                continue
            try:
                import contextlib
                scope = contextlib.nullcontext() if backend == "DEFAULT" else sdpa_kernel(getattr(SDPBackend, backend))
                with scope:
                    fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
                    t = timed(fn, reps=5)
                    out = fn()
                ref = out if ref is None else ref
                err = float((out.float() - ref.float()).norm() / ref.float().norm())
                r["sdpa"][f"{backend}_{T}"] = {"seconds": t, "TFLOPs": 2 * T * T * 128 * 32 / t / 1e12,
                                               "rel_diff_vs_first": err}
            except Exception as e:  # a backend that refuses these inputs says why
                r["sdpa"][f"{backend}_{T}"] = {"error": str(e).splitlines()[0][:200]}
        del q, k, v
    # cuDNN builds an execution plan per shape: the first call at a new length pays for it.
    for backend in ("CUDNN_ATTENTION", "FLASH_ATTENTION"):
        firsts = []
        with sdpa_kernel(getattr(SDPBackend, backend)):
            for T in (8000, 8001, 12345):
                q = torch.randn(1, 32, T, 128, device="cuda", dtype=torch.bfloat16)
                k = torch.randn(1, 8, T, 128, device="cuda", dtype=torch.bfloat16)
                v = torch.randn(1, 8, T, 128, device="cuda", dtype=torch.bfloat16)
                fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                first = time.perf_counter() - t0
                firsts.append({"tokens": T, "first_call_s": first, "steady_s": timed(fn, reps=3)})
        r[f"sdpa_first_call_{backend}"] = firsts
    print(json.dumps(r, indent=1))
    if args.out:
        args.out.write_text(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
