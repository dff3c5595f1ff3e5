#!/usr/bin/env python3
"""Policy x budget pivots of a report.json, as markdown: the average score, and the coverage statistics
(model coverage, head overlap, evidence recall; kvec.md), one row per policy, one column per budget.
    python3 scripts/pivot_report.py REPORT.json [--subset NAME]"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("report")
ap.add_argument("--subset", help="one subset's score instead of the average")
args = ap.parse_args()
report = json.load(open(args.report))
policies, budgets, cells, full = [], [], {}, None
for v in report["variants"]:
    score = v["scores"].get(args.subset) if args.subset else v["average"]
    if v["policy"] == "full":
        full = score
        continue
    b = v["budget"]
    if v["policy"] not in policies:
        policies.append(v["policy"])
    if b not in budgets:
        budgets.append(b)
    cov = v.get("coverage", {})
    mean = lambda k: cov[k]["mean"] * 100 if isinstance(cov.get(k), dict) else None
    cells[v["policy"], b] = (score, mean("model_coverage"), mean("mean_head_overlap"), mean("evidence_recall"))


def table(title, index, digits=1):
    print(f"| {title} | " + " | ".join(str(b) for b in budgets) + " |")
    print("|---|" + "---:|" * len(budgets))
    for p in policies:
        row = []
        for b in budgets:
            x = cells.get((p, b), (None,) * 4)[index]
            row.append("–" if x is None else f"{x:.{digits}f}")
        print(f"| {p} | " + " | ".join(row) + " |")
    print()


what = args.subset or "average"
print(f"Score ({what}; full cache: {full:.1f})\n")
table("policy \\ budget", 0)
print("Model coverage (% of evictable prompt positions kept by some head of some layer)\n")
table("policy \\ budget", 1)
print("Head overlap (% of a layer's slots spent on positions another head of the layer keeps)\n")
table("policy \\ budget", 2)
print("Evidence recall (% of the needles' tokens kept by some head)\n")
table("policy \\ budget", 3)
