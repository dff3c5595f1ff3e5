#!/usr/bin/env python3
"""Sample-by-sample comparison of two policies from a run's predictions (docs/results/synth-comparison.md):
per budget, on how many samples A scores higher than B, lower, or the same. Each sample's score is the one
kvbench's own metric gives it (`kvbench score --per-sample`), so the counts agree with the report. Only the
RULER-scored subsets count: the passage tasks are near chance even with the full cache.
    python3 scripts/paired_counts.py RUN_DIR/predictions kvec snapkv [--budgets 64,128,256] [--kvbench PATH]"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

RULER_TASKS = {"passkey", "niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery",
               "variable_tracking", "common_words"}

ap = argparse.ArgumentParser()
ap.add_argument("predictions", type=Path, help="the run's predictions/ folder (one folder per variant)")
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--budgets", default="64,128,256")
ap.add_argument("--kvbench", default=str(Path(__file__).resolve().parent.parent / "build" / "kvbench"),
                help="the kvbench binary that scores the samples (default: build/kvbench of this checkout)")
args = ap.parse_args()


def scores(variant):
    """{sample _id: score in [0, 1]} over the variant's RULER-scored subsets."""
    folder = args.predictions / variant
    if not folder.is_dir():
        raise SystemExit(f"paired_counts.py: no predictions for variant '{variant}' in {args.predictions}")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for f in sorted(folder.glob("*.jsonl")):
            if f.stem not in RULER_TASKS:
                continue
            per_sample = Path(tmp) / f.name
            run = subprocess.run([args.kvbench, "score", "--dataset", f.stem, "--pred", str(f),
                                  "--per-sample", str(per_sample)], capture_output=True, text=True)
            if run.returncode != 0:
                raise SystemExit(f"paired_counts.py: kvbench score failed on {f}:\n{run.stderr.strip()}")
            ids = [json.loads(line)["_id"] for line in f.open()]
            for line in per_sample.open():
                row = json.loads(line)
                out[ids[row["index"]]] = row["score"]
    return out


print(f"| budget | {args.a} better | {args.a} worse | equal | {args.a} mean | {args.b} mean |")
print("|---:|---:|---:|---:|---:|---:|")
for budget in args.budgets.split(","):
    a, b = scores(f"{args.a}-{budget}"), scores(f"{args.b}-{budget}")
    if a.keys() != b.keys():
        raise SystemExit(f"paired_counts.py: {args.a}-{budget} and {args.b}-{budget} scored different samples")
    better = sum(a[k] > b[k] for k in a)
    worse = sum(a[k] < b[k] for k in a)
    mean = lambda s: 100 * sum(s.values()) / len(s)
    print(f"| {budget} | {better} | {worse} | {len(a) - better - worse} | {mean(a):.1f} | {mean(b):.1f} |")
