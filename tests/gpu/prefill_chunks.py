#!/usr/bin/env python3
"""Prefill time at one length for several prefill chunk sizes, with the stage profile of each (where the time
goes: KVBENCH_PROFILE_POLICIES=1 synchronizes at each stage, so staged runs are slower than plain ones).

    python3 tests/gpu/prefill_chunks.py --kvbench build-gpu/kvbench --model DIR [--tokens 32768]
        [--chunks 8192,16384,32768] [--best-out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path


def bench(args, chunk: int, profile: bool) -> tuple[float, str]:
    env = dict(os.environ, KVBENCH_PROFILE_POLICIES="1" if profile else "0")
    proc = subprocess.run([args.kvbench, "--log-level", "warn", "bench", "--model", args.model, "--device", "cuda",
                           "--prompt-tokens", str(args.tokens), "--samples", "2", "--new-tokens", "2", "--policy",
                           "full", "--prefill-chunk", str(chunk), "--json"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    stages = "\n".join(l for l in proc.stderr.splitlines() if l.startswith("[stage]"))
    return report["lengths"][0]["prefill_seconds"]["median"], stages


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", type=int, default=32768)
    ap.add_argument("--chunks", default="8192,16384,32768")
    ap.add_argument("--best-out", type=Path)
    args = ap.parse_args()
    best = None
    for chunk in map(int, args.chunks.split(",")):
        seconds, _ = bench(args, chunk, profile=False)
        _, stages = bench(args, chunk, profile=True) if chunk == 8192 else (None, "")
        print(f"chunk {chunk}: prefill {seconds:.3f} s (median of 2, after a same-length warm-up)\n{stages}", flush=True)
        if best is None or seconds < best[1]:
            best = (chunk, seconds)
    print(f"best chunk {best[0]}: {best[1]:.3f} s")
    if args.best_out:
        args.best_out.write_text(str(best[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
