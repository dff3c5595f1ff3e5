#!/usr/bin/env python3
"""Runs the OFFICIAL LongBench scorer on the prediction files of inputs/ and records its results in expected/.
Nothing of the official code is stored in this repository: --official names a directory holding THUDM/LongBench's
metrics.py and eval.py and pltrdy rouge 1.0.1 as a package rouge/ (see README.md for how to obtain them).

  PYTHONPATH=<dir with fuzzywuzzy 0.18.0, WITHOUT python-Levenshtein> \
    /usr/bin/python3 tests/data/metrics/oracle.py --official /tmp/oracle/lb --shared ../shared

For every inputs/<set>/<subset>.jsonl (and the golden files of ../shared/data/longbench-golden as set "golden"):
  expected/<set>/<subset>.jsonl   one {"index": i, "score": s} per sample (json.dumps of the Python float)
  expected/<set>/result.json      eval.py's own output, run as a script (python3 eval.py --model <set>)
  expected/<set>/result_e.json    the same with --e (LongBench-E buckets); NaN (empty bucket) written as null
  expected/jieba_cut.jsonl        list(jieba.cut(text, cut_all=False)) for each text of inputs/jieba_texts.jsonl
  expected/versions.json          the versions of Python, jieba, fuzzywuzzy, numpy and rouge used
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def per_sample(dataset, predictions, answers, all_classes):
    # Same loop as eval.py's scorer, and called from module level like it, so the metric runs at the same
    # Python stack depth (rouge's recursive LCS back-trace hits the recursion limit at the same length).
    out = []
    for (prediction, ground_truths) in zip(predictions, answers):
        score = 0.
        if dataset in ["trec", "triviaqa", "samsum", "lsht"]:
            prediction = prediction.lstrip('\n').split('\n')[0]
        for ground_truth in ground_truths:
            score = max(score, dataset2metric[dataset](prediction, ground_truth, all_classes=all_classes))
        out.append(score)
    return out


def nan_to_null(x):
    if isinstance(x, dict):
        return {k: nan_to_null(v) for k, v in x.items()}
    return None if x != x else x


def run_set(official, set_name, src_dir):
    out_dir = os.path.join(HERE, "expected", set_name)
    os.makedirs(out_dir, exist_ok=True)
    files = sorted(f for f in os.listdir(src_dir) if f.endswith(".jsonl"))
    for f in files:
        dataset = f.split(".")[0]
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--official", official, "--per-sample",
                              dataset, os.path.join(src_dir, f)], check=True, capture_output=True, text=True)
        with open(os.path.join(out_dir, f), "w", encoding="utf-8") as o:
            o.write(res.stdout)
    work = tempfile.mkdtemp()
    try:
        for mode, sub, name in [([], "pred", "result.json"), (["--e"], "pred_e", "result_e.json")]:
            d = os.path.join(work, sub, set_name)
            os.makedirs(d)
            for f in files:
                shutil.copy(os.path.join(src_dir, f), d)
            subprocess.run([sys.executable, os.path.join(official, "eval.py"), "--model", set_name] + mode,
                           cwd=work, check=True, capture_output=True)
            with open(os.path.join(d, "result.json"), encoding="utf-8") as r:
                result = json.load(r)
            result = {k: nan_to_null(v) for k, v in sorted(result.items())}
            with open(os.path.join(out_dir, name), "w", encoding="utf-8") as o:
                json.dump(result, o, ensure_ascii=False, indent=1)
                o.write("\n")
    finally:
        shutil.rmtree(work)
    print(set_name, len(files), "files")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", required=True)
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "..", "shared"))
    ap.add_argument("--per-sample", nargs=2, metavar=("DATASET", "FILE"))
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.official))
    if args.per_sample:
        import warnings
        warnings.simplefilter("ignore")
        import difflib
        import fuzzywuzzy.fuzz
        assert fuzzywuzzy.fuzz.SequenceMatcher is difflib.SequenceMatcher, \
            "python-Levenshtein is importable: fuzzywuzzy would not take the official pure-Python path"
        import jieba
        import logging
        jieba.setLogLevel(logging.ERROR)
        from eval import dataset2metric
        dataset, path = args.per_sample
        predictions, answers = [], []
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                data = json.loads(line)
                predictions.append(data["pred"])
                answers.append(data["answers"])
                all_classes = data["all_classes"]
        scores = per_sample(dataset, predictions, answers, all_classes)
        for i, s in enumerate(scores):
            print(json.dumps({"index": i, "score": float(s)}))
    else:
        import platform
        import jieba
        import numpy
        sys.path.insert(0, os.path.abspath(args.official))
        import fuzzywuzzy
        os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
        with open(os.path.join(HERE, "expected", "versions.json"), "w") as o:
            json.dump({"python": platform.python_version(), "jieba": jieba.__version__,
                       "fuzzywuzzy": fuzzywuzzy.__version__, "numpy": numpy.__version__,
                       "rouge": __import__("rouge").__version__}, o, indent=1)
            o.write("\n")
        for set_name in sorted(os.listdir(os.path.join(HERE, "inputs"))):
            if os.path.isdir(os.path.join(HERE, "inputs", set_name)):
                run_set(args.official, set_name, os.path.join(HERE, "inputs", set_name))
        import logging
        jieba.setLogLevel(logging.ERROR)
        with open(os.path.join(HERE, "inputs", "jieba_texts.jsonl"), encoding="utf-8") as f, \
                open(os.path.join(HERE, "expected", "jieba_cut.jsonl"), "w", encoding="utf-8") as o:
            for line in f:
                o.write(json.dumps(list(jieba.cut(json.loads(line)["text"], cut_all=False)), ensure_ascii=False) + "\n")
        golden = os.path.join(args.shared, "data", "longbench-golden")
        if os.path.isdir(golden):
            run_set(args.official, "golden", golden)
