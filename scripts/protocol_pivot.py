#!/usr/bin/env python3
"""Question-aware vs query-agnostic, side by side, from one report.json (docs/protocols.md): one row per policy,
per budget the score in each protocol and the difference (agnostic - aware), as markdown.
    python3 scripts/protocol_pivot.py REPORT.json [--subsets a,b,...]   (default: the average over all subsets)"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("report")
ap.add_argument("--subsets", help="average only these subsets' scores (e.g. the needle tasks)")
args = ap.parse_args()
report = json.load(open(args.report))
wanted = args.subsets.split(",") if args.subsets else None


def score(v):
    if wanted is None:
        return v["average"]
    values = [v["scores"][s] for s in wanted if s in v["scores"]]
    return sum(values) / len(values) if values else None


policies, budgets, cells = [], [], {}
for v in report["variants"]:
    if v.get("decode"):
        continue
    key = "full" if v["policy"] == "full" else v["policy"]
    if key not in policies:
        policies.append(key)
    b = v["budget"] if v["budget"] is not None else "full"
    if b not in budgets and b != "full":
        budgets.append(b)
    cells[key, b, v.get("protocol", "question_aware")] = score(v)

fmt = lambda x: "–" if x is None else f"{x:.1f}"
print("| policy | " + " | ".join(f"{b} aware | {b} agnostic | {b} Δ" for b in budgets) + " |")
print("|---|" + "---:|" * (3 * len(budgets)))
for p in policies:
    row = []
    for b in budgets:
        bb = "full" if p == "full" else b
        a, g = cells.get((p, bb, "question_aware")), cells.get((p, bb, "query_agnostic"))
        row += [fmt(a), fmt(g), "–" if a is None or g is None else f"{g - a:+.1f}"]
    print(f"| {p} | " + " | ".join(row) + " |")
