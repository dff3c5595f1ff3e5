#!/usr/bin/env python3
"""What a sweep costs beside a single-variant run (issue 6, acceptance 2), on the GPU machine.

    python3 tests/gpu/sweep_bench.py --kvbench build-gpu/kvbench --workdir /tmp/pp [--samples 4] [--out FILE]

The Llama-3.1-8B-shaped random checkpoint (bf16; written by policy_parity.write_8b_checkpoint unless the
workdir has it), N random 8,192-token prompts, 64 new tokens each (no stop token), after a warm-up of the same
length (prefill and a 2-token decode: CUDA loads each kernel on first use, which should not land in a timing). Three runs over the same samples:
  single   snapkv at budget 128;
  sweep    snapkv, pyramidkv, adakv, kvec x budgets 128 and 512 (8 variants), one prefill per sample,
           the variants' decodes batched;
  unbatched the same sweep with model.batch_decode=off (one decode per variant), for comparison.
Time is the sample loop of each run (manifest samples_wall_seconds: prefill, compression, decode,
statistics and writes; no model load). The acceptance bound: sweep / single <= 2. Also checks that the
sweep's snapkv-128 predictions equal the single run's tokens, and reports peak device memory.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy_parity as pp  # noqa: E402

POLICIES = ["snapkv", "pyramidkv", "adakv", "kvec"]
BUDGETS = [128, 512]


def run(args, name: str, policies: list[str], budgets: list[int], extra: dict | None = None,
        tokens: int | None = None, samples: int | None = None) -> dict:
    run_dir = args.workdir / name
    model = {"path": str(args.workdir / "llama31_8b"), "device": "cuda", "dtype": "bf16"}
    model.update(extra or {})
    config = {"name": name, "output_dir": str(run_dir), "model": model,
              "prompt": {"random_ids": {"tokens": tokens or args.tokens, "seed": 11,
                                        "count": samples or args.samples}},
              "max_new_tokens": args.new_tokens, "warmup_tokens": tokens or args.tokens,
              "policies": [{"name": p} for p in policies], "budgets": budgets}
    path = args.workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    proc = subprocess.run([args.kvbench, "--log-level", "warn", "run", "--config", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: {proc.stderr[-3000:]}")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    session = manifest["sessions"][-1]
    out = {"samples_wall_seconds": session["samples_wall_seconds"],
           "peak_device_memory_bytes": report["peak_device_memory_bytes"],
           "variants": len(report["variants"])}
    print(f"[{name}]", json.dumps(out), flush=True)
    return out


def predictions(run_dir: Path, variant: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions" / variant / "prompt.jsonl").read_text().splitlines()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    pp.write_8b_checkpoint(args.workdir / "llama31_8b")

    single = run(args, "single", ["snapkv"], [128])
    sweep = run(args, "sweep", POLICIES, BUDGETS)
    unbatched = run(args, "unbatched", POLICIES, BUDGETS, {"batch_decode": "off"})
    ratio = sweep["samples_wall_seconds"] / single["samples_wall_seconds"]
    ratio_unbatched = unbatched["samples_wall_seconds"] / single["samples_wall_seconds"]
    # Batching must not change what a variant generates. In bf16 the batched and the single decode sum in
    # other orders, and a random model's near-flat logits flip: report how many tokens agree before the
    # first difference (-1: identical). In f32 (a small random Llama, same shapes of work) every token must agree.
    def agreement(run_a: str, run_b: str, variants: list[str]) -> list[int]:
        prefixes = []
        for v in variants:
            for x, y in zip(predictions(args.workdir / run_a, v), predictions(args.workdir / run_b, v)):
                x, y = x["output_ids"], y["output_ids"]
                n = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                prefixes.append(n if x != y else -1)  # -1: identical (possibly stopped early on EOS)
        return prefixes
    bf16_prefix = agreement("single", "sweep", ["snapkv-128"]) + agreement("unbatched", "sweep",
                                                                           [f"{p}-{b}" for p in POLICIES for b in BUDGETS])
    tiny = args.workdir / "tiny_f32"
    subprocess.run([args.kvbench, "make-tiny", "--out", str(tiny), "--vocab", "32000", "--hidden", "512",
                    "--intermediate", "1024", "--layers", "4", "--heads", "8", "--kv-heads", "2",
                    "--max-positions", "8192", "--seed", "5"], check=True, capture_output=True)
    f32 = {"path": str(tiny), "dtype": "f32"}
    run(args, "f32_batched", POLICIES, BUDGETS, f32, tokens=2048, samples=2)
    run(args, "f32_unbatched", POLICIES, BUDGETS, dict(f32, batch_decode="off"), tokens=2048, samples=2)
    f32_prefix = agreement("f32_batched", "f32_unbatched", [f"{p}-{b}" for p in POLICIES for b in BUDGETS])
    result = {"samples": args.samples, "prompt_tokens": args.tokens, "new_tokens": args.new_tokens,
              "single": single, "sweep": sweep, "unbatched": unbatched,
              "ratio_sweep_over_single": ratio, "ratio_unbatched_over_single": ratio_unbatched,
              "bf16_tokens_agreeing_before_first_difference": bf16_prefix,
              "f32_tokens_agreeing_before_first_difference": f32_prefix}
    print(json.dumps(result, indent=1))
    print(f"sweep of {sweep['variants']} variants / single variant: {ratio:.2f}x (bound 2x); "
          f"without batched decode: {ratio_unbatched:.2f}x")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    f32_ok = all(n == -1 for n in f32_prefix)
    print(f"f32: batched and one-by-one decodes agree on every token: {f32_ok}")
    return 0 if ratio <= 2.0 and f32_ok else 1


if __name__ == "__main__":
    sys.exit(main())
