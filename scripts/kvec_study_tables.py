#!/usr/bin/env python3
"""Issue 18's K-VEC study tables (docs/results/kvec-study.md) from the runs' report.json files.

  python3 scripts/kvec_study_tables.py dev REPORT...     every setting's dev score per (length, budget) and
                                                          their mean, best first; the K-VEC setting with the
                                                          highest mean is the one chosen for the test split
  python3 scripts/kvec_study_tables.py test KVBENCH REPORT...   kvec and kvec-chosen vs snapkv, adakv and
                                                          pyramidkv per budget: paired mean difference,
                                                          95% bootstrap CI, sign-test p (kvbench compare)

A report's length is read from its run name (...-4k / ...-8k); variant names are <label>-<budget>.
"""
import json
import re
import subprocess
import sys
from collections import defaultdict

BUDGETS = [64, 128, 256]


def length_of(report):
    m = re.search(r"-(\d+k)$", report["run"])
    if not m:
        sys.exit(f"{report['run']}: the run name must end in -4k or -8k")
    return m.group(1)


def dev(paths):
    scores = defaultdict(dict)  # label -> (length, budget) -> average
    lengths = []
    for path in paths:
        report = json.load(open(path))
        length = length_of(report)
        lengths.append(length) if length not in lengths else None
        for v in report["variants"]:
            m = re.match(r"(.*)-(\d+)$", v["name"])
            if m and int(m.group(2)) in BUDGETS and v.get("average") is not None:
                scores[m.group(1)][(length, int(m.group(2)))] = v["average"]
    cells = [(length, b) for length in sorted(lengths) for b in BUDGETS]
    rows = []
    for label, by_cell in scores.items():
        if all(c in by_cell for c in cells):
            rows.append((sum(by_cell[c] for c in cells) / len(cells), label, [by_cell[c] for c in cells]))
    rows.sort(key=lambda r: (-r[0], r[1]))
    print("| setting | " + " | ".join(f"{l} / {b}" for l, b in cells) + " | mean |")
    print("|---|" + "---:|" * (len(cells) + 1))
    for mean, label, values in rows:
        print(f"| {label} | " + " | ".join(f"{x:.2f}" for x in values) + f" | {mean:.2f} |")
    kvec = [r for r in rows if r[1].startswith("kvec")]
    if kvec:
        print(f"\nchosen (highest mean of the K-VEC settings): {kvec[0][1]} ({kvec[0][0]:.2f})")


def test(kvbench, paths):
    print("| length | budget | A | B | mean A | mean B | A - B | 95% CI | wins / ties / losses | sign p |")
    print("|---|---:|---|---|---:|---:|---:|---|---|---:|")
    for path in paths:
        report = json.load(open(path))
        length = length_of(report)
        for a in ["kvec", "kvec-chosen"]:
            for b in ["snapkv", "adakv", "pyramidkv"]:
                for budget in BUDGETS:
                    out = subprocess.run([kvbench, "compare", "--report", path, "--a", f"{a}-{budget}",
                                          "--b", f"{b}-{budget}", "--format", "json"],
                                         check=True, capture_output=True, text=True).stdout
                    s = json.loads(out)["tasks"]["all"]
                    print(f"| {length} | {budget} | {a} | {b} | {s['mean_a']:.2f} | {s['mean_b']:.2f} | "
                          f"{s['mean_diff']:+.2f} | [{s['ci95'][0]:+.2f}, {s['ci95'][1]:+.2f}] | "
                          f"{s['wins']} / {s['ties']} / {s['losses']} | {s['sign_test_p']:.2g} |")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("dev", "test"):
        sys.exit(__doc__)
    if sys.argv[1] == "dev":
        dev(sys.argv[2:])
    else:
        test(sys.argv[2], sys.argv[3:])
