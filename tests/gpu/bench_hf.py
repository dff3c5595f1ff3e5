#!/usr/bin/env python3
"""kvbench beside HF transformers on one GPU, in one process tree (issue 14): the same checkpoint, the same
prompts, the same warm-up; prints the ratios.

    python3 tests/gpu/bench_hf.py --kvbench build-gpu/kvbench --workdir /tmp/pp [--lengths 8192,32768]
        [--samples 3] [--new-tokens 64] [--workload lengths,longbench16] [--out FILE]

Checkpoint: the random-weights Llama-3.1-8B shape of tests/gpu/policy_parity.py (bf16).
lengths: `kvbench bench --json --prompts-out` for the full cache and for snapkv at budget 1024 (separate
  processes, so each reports its own peak memory), then HF (sdpa, bf16) on the full run's prompt ids: an
  untimed prefill + 2-step decode of the same length first, then per prompt the prefill (device synchronized)
  and a greedy loop of `model(token, past_key_values=cache)` with a CUDA event after every step (as kvbench
  times its steps), and torch.cuda.max_memory_allocated.
longbench16: `kvbench bench --workload longbench16` for one variant (full) and for the 8-variant sweep of
  tests/gpu/sweep_bench.py (snapkv, pyramidkv, adakv, kvec x 128, 512); HF on the same prompt ids, each
  prompt's prefill plus its subset's max new tokens at the per-step time of a 16-step loop (extrapolated), times
  each subset's size. HF has no shared prefill, so its sweep estimate is 8 x its one-variant estimate (and
  leaves out the cost of compression, which favours HF).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy_parity as pp  # noqa: E402

SWEEP = ["snapkv", "pyramidkv", "adakv", "kvec"]


def kvbench_bench(args, extra: list[str], prompts: Path | None) -> dict:
    cmd = [args.kvbench, "--log-level", "warn", "bench", "--model", str(args.model), "--device", "cuda",
           "--dtype", "bf16", "--json", *extra, *args.kvbench_args.split()]
    if prompts is not None:
        prompts.unlink(missing_ok=True)
        cmd += ["--prompts-out", str(prompts)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kvbench bench failed: {proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["process_seconds"] = time.time() - t0
    return report


def read_prompts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class HF:
    def __init__(self, model_dir: Path):
        from transformers import AutoModelForCausalLM
        t0 = time.time()
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16,
                                                          attn_implementation="sdpa").cuda().eval()
        self.load_seconds = time.time() - t0

    @torch.no_grad()
    def run(self, ids: list[int], steps: int) -> dict:
        from transformers import DynamicCache
        x = torch.tensor([ids], device="cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        cache = DynamicCache()
        out = self.model(x, past_key_values=cache, use_cache=True, logits_to_keep=1)
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
        torch.cuda.synchronize()
        prefill = time.perf_counter() - t0
        events = [torch.cuda.Event(enable_timing=True) for _ in range(steps + 1)]
        events[0].record()
        for i in range(steps):
            out = self.model(tok, past_key_values=cache, use_cache=True)
            tok = out.logits[:, -1].argmax(-1, keepdim=True)
            events[i + 1].record()
        torch.cuda.synchronize()
        step_ms = [events[i].elapsed_time(events[i + 1]) for i in range(steps)]
        return {"prefill_seconds": prefill, "step_ms": step_ms, "peak_bytes": torch.cuda.max_memory_allocated()}


def med_p90(v: list[float]) -> tuple[float, float]:
    s = sorted(v)
    return statistics.median(s), s[min(len(s) - 1, max(0, -(-9 * len(s) // 10) - 1))]


def lengths(args, hf: HF | None) -> dict:
    lens = ",".join(map(str, args.lengths))
    common = ["--prompt-tokens", lens, "--samples", str(args.samples), "--new-tokens", str(args.new_tokens)]
    prompts = args.workdir / "prompts-lengths.jsonl"
    full = kvbench_bench(args, common + ["--policy", "full"], prompts)
    snap = kvbench_bench(args, common + ["--policy", "snapkv", "--budget", "1024"], None)
    rows = []
    by_len: dict[int, list[list[int]]] = {}
    for p in read_prompts(prompts):
        by_len.setdefault(p["tokens"], []).append(p["ids"])
    for i, T in enumerate(args.lengths):
        kf, ks = full["lengths"][i], snap["lengths"][i]
        row = {"prompt_tokens": T,
               "kvbench_full": {"prefill_s": kf["prefill_seconds"]["median"], "mfu": kf["mfu"],
                                "decode_ms": kf["variants"][0]["decode_ms_per_step"],
                                "peak_gib": kf["peak_device_memory_bytes"] / 2**30},
               "kvbench_snapkv1024": {"prefill_s": ks["prefill_seconds"]["median"],
                                      "compression_s": ks["variants"][0]["compression_seconds"]["median"],
                                      "decode_ms": ks["variants"][0]["decode_ms_per_step"],
                                      "peak_gib": ks["peak_device_memory_bytes"] / 2**30}}
        if hf is not None:
            hf.run(by_len[T][0][:T], 2)  # the same-length warm-up
            runs = [hf.run(ids, args.new_tokens) for ids in by_len[T]]
            steps = [s for r in runs for s in r["step_ms"]]
            m, p90 = med_p90(steps)
            row["hf"] = {"prefill_s": statistics.median(r["prefill_seconds"] for r in runs),
                         "decode_ms": {"median": m, "p90": p90}, "peak_gib": max(r["peak_bytes"] for r in runs) / 2**30}
            row["ratio_prefill_tok_s_kvbench_over_hf"] = row["hf"]["prefill_s"] / row["kvbench_full"]["prefill_s"]
            row["ratio_decode_hf_over_kvbench_full"] = m / row["kvbench_full"]["decode_ms"]["median"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    weights = full["weight_bytes"] / 2**30
    print(f"\nweights {weights:.2f} GiB; peak memory bounds: snapkv-1024 <= weights + 2 = {weights + 2:.2f} GiB, "
          f"full <= weights + KV + 2")
    print(f"{'tokens':>7} {'prefill kvb s':>13} {'HF s':>7} {'ratio':>6} {'MFU':>5} | {'full ms med/p90':>16} "
          f"{'snap1024 ms':>14} {'HF ms':>7} | {'peak full':>9} {'snap':>6} {'HF':>6} GiB")
    for r in rows:
        hf_r = r.get("hf", {})
        kf, ks = r["kvbench_full"], r["kvbench_snapkv1024"]
        print(f"{r['prompt_tokens']:>7} {kf['prefill_s']:>13.3f} {hf_r.get('prefill_s', float('nan')):>7.3f} "
              f"{r.get('ratio_prefill_tok_s_kvbench_over_hf', float('nan')):>6.2f} {kf['mfu'] or 0:>5.2f} | "
              f"{kf['decode_ms']['median']:>7.2f}/{kf['decode_ms']['p90']:<7.2f} "
              f"{ks['decode_ms']['median']:>6.2f}/{ks['decode_ms']['p90']:<6.2f} "
              f"{hf_r.get('decode_ms', {}).get('median', float('nan')):>7.2f} | {kf['peak_gib']:>9.2f} "
              f"{ks['peak_gib']:>6.2f} {hf_r.get('peak_gib', float('nan')):>6.2f}")
    return {"kvbench_full": full, "kvbench_snapkv1024": snap, "rows": rows}


def longbench16(args, hf: HF | None) -> dict:
    prompts = args.workdir / "prompts-lb16.jsonl"
    common = ["--workload", "longbench16", "--per-subset", "1"]
    single = kvbench_bench(args, common + ["--policy", "full"], prompts)
    sweep = kvbench_bench(args, common + sum((["--policy", p] for p in SWEEP), []) + ["--budget", "128", "--budget",
                                                                                        "512"], None)
    out = {"kvbench_single": single, "kvbench_sweep8": sweep}
    if hf is not None:
        total, rows = 0.0, []
        shapes = {s["subset"]: s for s in single["subsets"]}
        hf.run(read_prompts(prompts)[0]["ids"], 2)
        for p in read_prompts(prompts):
            s = shapes[p["label"]]
            r = hf.run(p["ids"], 16)
            per_prompt = r["prefill_seconds"] + s["new_tokens"] * statistics.median(r["step_ms"]) / 1e3
            total += per_prompt * s["samples"]
            rows.append({"subset": p["label"], "prefill_s": r["prefill_seconds"], "step_ms": statistics.median(r["step_ms"]),
                         "seconds_per_prompt": per_prompt})
        out["hf"] = {"subsets": rows, "estimated_seconds": total, "estimated_sweep8_seconds": 8 * total}
    kv1, kv8 = single["estimated_seconds"], sweep["estimated_seconds"]
    print(f"\nLongBench-16 estimate (3,750 prompts): kvbench one variant {kv1 / 3600:.2f} h, 8-variant sweep "
          f"{kv8 / 3600:.2f} h ({kv8 / kv1:.2f}x one variant)")
    if hf is not None:
        h1 = out["hf"]["estimated_seconds"]
        print(f"HF transformers: one variant {h1 / 3600:.2f} h ({h1 / kv1:.1f}x kvbench), 8 variants "
              f"{8 * h1 / 3600:.2f} h ({8 * h1 / kv8:.1f}x kvbench's sweep)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--lengths", type=lambda s: [int(x) for x in s.split(",")], default=[8192, 32768])
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--workload", default="lengths,longbench16")
    ap.add_argument("--no-hf", action="store_true")
    ap.add_argument("--kvbench-args", default="", help="extra kvbench bench flags, e.g. '--prefill-chunk 16384'")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.model = args.workdir / "llama31_8b"
    pp.write_8b_checkpoint(args.model)
    result = {}
    workloads = args.workload.split(",")
    # The HF model stays idle in this process while kvbench runs in its own (each side's peak memory is its
    # own process's; the GPU has room for both).
    hf = None if args.no_hf else HF(args.model)
    if hf is not None:
        print(f"HF loaded in {hf.load_seconds:.0f}s", flush=True)
    if "lengths" in workloads:
        result["lengths"] = lengths(args, hf)
    if "longbench16" in workloads:
        result["longbench16"] = longbench16(args, hf)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
