#!/usr/bin/env python3
"""Sample-by-sample comparison of two policies from a run's predictions (docs/results/synth-comparison.md):
per budget, on how many samples A scores higher than B, lower, or the same. Scores are RULER's string_match_all
(the share of references found in the prediction, case-insensitive), so only the RULER-scored subsets count;
the passage tasks use LongBench's metrics and are skipped.
    python3 scripts/paired_counts.py RUN_DIR/predictions kvec snapkv [--budgets 64,128,256]"""
import argparse
import json
from pathlib import Path

RULER_TASKS = {"passkey", "niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery",
               "variable_tracking", "common_words"}

ap = argparse.ArgumentParser()
ap.add_argument("predictions", type=Path, help="the run's predictions/ folder (one folder per variant)")
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--budgets", default="64,128,256")
args = ap.parse_args()


def scores(variant):
    folder = args.predictions / variant
    if not folder.is_dir():
        raise SystemExit(f"paired_counts.py: no predictions for variant '{variant}' in {args.predictions}")
    out = {}
    for f in sorted(folder.glob("*.jsonl")):
        if f.stem not in RULER_TASKS:
            continue
        for line in f.open():
            row = json.loads(line)
            pred = row["pred"].lower()
            out[row["_id"]] = sum(a.lower() in pred for a in row["answers"]) / len(row["answers"])
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
