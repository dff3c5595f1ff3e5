#!/usr/bin/env python3
"""What a sweep costs beside a single-variant run (issue 6, acceptance 2), on the GPU machine.

    python3 tests/gpu/sweep_bench.py --kvbench build-gpu/kvbench --workdir /tmp/pp [--samples 4] [--out FILE]

The Llama-3.1-8B-shaped random checkpoint (bf16; written by policy_parity.write_8b_checkpoint unless the
workdir has it), N random 8,192-token prompts, 64 new tokens each (no stop token), after a 2,048-token
warm-up. Three runs over the same samples:
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


def run(args, name: str, policies: list[str], budgets: list[int], extra: dict | None = None) -> dict:
    run_dir = args.workdir / name
    model = {"path": str(args.workdir / "llama31_8b"), "device": "cuda", "dtype": "bf16"}
    model.update(extra or {})
    config = {"name": name, "output_dir": str(run_dir), "model": model,
              "prompt": {"random_ids": {"tokens": args.tokens, "seed": 11, "count": args.samples}},
              "max_new_tokens": args.new_tokens, "warmup_tokens": 2048,
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
    # Batching must not change what a variant generates (bf16 sums may differ in order: report, don't fail).
    a = [r["output_ids"] for r in predictions(args.workdir / "single", "snapkv-128")]
    b = [r["output_ids"] for r in predictions(args.workdir / "sweep", "snapkv-128")]
    same_tokens = sum(x == y for x, y in zip(a, b))
    result = {"samples": args.samples, "prompt_tokens": args.tokens, "new_tokens": args.new_tokens,
              "single": single, "sweep": sweep, "unbatched": unbatched,
              "ratio_sweep_over_single": ratio, "ratio_unbatched_over_single": ratio_unbatched,
              "snapkv128_samples_with_identical_tokens": f"{same_tokens}/{len(a)}"}
    print(json.dumps(result, indent=1))
    print(f"sweep of {sweep['variants']} variants / single variant: {ratio:.2f}x (bound 2x); "
          f"without batched decode: {ratio_unbatched:.2f}x")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0 if ratio <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
