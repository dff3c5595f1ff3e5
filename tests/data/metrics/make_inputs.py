#!/usr/bin/env python3
"""Builds the prediction files under inputs/ that tests/test_metrics.cpp scores and compares with the OFFICIAL
LongBench scorer's results (expected/, written by oracle.py). Deterministic: fixed seeds, sorted inputs.

  python3 tests/data/metrics/make_inputs.py --shared ../shared

inputs/perturbed/<subset>.jsonl: all 21 subsets of eval.py; perturbations of the golden Llama-2-7B-chat
predictions (../shared/data/longbench-golden) and of the real LongBench rows in ../shared/data/longbench.
inputs/quirks/<subset>.jsonl: hand-made rows aimed at each quirk of the metrics (see docs/metrics.md).
inputs/jieba_texts.jsonl: texts whose jieba.cut tokens oracle.py records.
"""
import argparse
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path, limit=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def row(pred, answers, length, all_classes=None):
    return {"pred": pred, "answers": answers, "all_classes": all_classes, "length": length}


def write(set_name, subset, rows):
    d = os.path.join(HERE, "inputs", set_name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, subset + ".jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def perturb(rng, pred, answers, other_answers):
    """One random perturbation of (pred, answers)."""
    kind = rng.randrange(16)
    if kind == 0:
        return pred, answers  # unchanged
    if kind == 1:
        return pred[: rng.randint(0, max(0, len(pred)))], answers  # truncation (may be empty)
    if kind == 2:
        return pred.upper(), answers
    if kind == 3:
        return pred.lower(), answers
    if kind == 4:
        return pred.swapcase(), answers
    if kind == 5:
        return "\n\n" + pred, answers  # leading newlines (first-line rule strips them)
    if kind == 6:
        k = rng.randint(0, len(pred))
        return pred[:k] + "\n" + pred[k:], answers  # a line break somewhere (first-line rule cuts there)
    if kind == 7:
        return rng.choice(["", " ", "\n", " \n \n", "...", ". . ."]), answers  # empty-ish predictions
    if kind == 8:
        return rng.choice(answers) if answers else pred, answers  # the gold answer itself
    if kind == 9:
        a = rng.choice(answers) if answers else ""
        return rng.choice(["The ", "An ", "a ", "", "Answer: "]) + a + rng.choice([".", "!", " ", "", "\n"]), answers
    if kind == 10:
        return pred.replace(" ", rng.choice(["\u3000", "\xa0", "  ", "\t", " , ", ". "])), answers
    if kind == 11:
        return pred.translate(FULLWIDTH), answers  # fullwidth digits: Unicode \d, never equal to ASCII ids
    if kind == 12:
        extra = rng.choice(other_answers) if other_answers else []
        return pred, answers + extra  # more answers: the max over them counts
    if kind == 13:
        return pred, []  # no answers: 0
    if kind == 14:
        return pred.replace(".", rng.choice(["", "..", " . ", "。"])), answers
    return pred + rng.choice([" the end.", "\n\nNote: this is an answer.", " ΣΑΣ Σ.", " İstanbul"]), answers


def perturbed_set(shared):
    golden = os.path.join(shared, "data", "longbench-golden")
    data = os.path.join(shared, "data", "longbench")
    rng = random.Random(20240601)
    out = {}

    def from_golden(name, n, target=None, seed_rows=None):
        rows = seed_rows if seed_rows is not None else load(os.path.join(golden, name + ".jsonl"))
        rows = rows[:n]
        others = [r["answers"] for r in rows]
        res = []
        for i, r in enumerate(rows):
            if i < 3:
                pred, answers = r["pred"], r["answers"]  # a few rows unchanged
            else:
                pred, answers = perturb(rng, r["pred"], r["answers"], others)
                if (target or name) in ("passage_retrieval_en", "passage_retrieval_zh"):
                    answers = [a for a in answers if ("Paragraph " in a or "段落" in a)] or r["answers"]
            res.append(row(pred, answers, r["length"], r["all_classes"]))
        out[target or name] = res

    for name, n in [("narrativeqa", 40), ("qasper", 40), ("hotpotqa", 40), ("gov_report", 12), ("samsum", 40),
                    ("trec", 40), ("passage_count", 40), ("passage_retrieval_en", 40), ("lcc", 60),
                    ("multifieldqa_zh", 40), ("dureader", 25), ("passage_retrieval_zh", 40)]:
        from_golden(name, n)
    # Subsets without golden predictions: the same kind of rows under the other names of each metric.
    from_golden("narrativeqa", 40, "triviaqa", load(os.path.join(golden, "narrativeqa.jsonl"))[40:80])
    from_golden("qasper", 30, "multifieldqa_en", load(os.path.join(golden, "qasper.jsonl"))[40:70])
    from_golden("hotpotqa", 30, "2wikimqa", load(os.path.join(golden, "hotpotqa.jsonl"))[40:70])
    from_golden("hotpotqa", 30, "musique", load(os.path.join(golden, "hotpotqa.jsonl"))[70:100])
    from_golden("samsum", 30, "qmsum", load(os.path.join(golden, "samsum.jsonl"))[40:70])
    from_golden("dureader", 20, "vcsum", load(os.path.join(golden, "dureader.jsonl"))[25:45])
    from_golden("lcc", 60, "repobench-p", load(os.path.join(golden, "lcc.jsonl"))[60:120])

    # multi_news: real reference summaries; predictions = the first sentences of the real documents.
    rows = []
    for r in load(os.path.join(data, "multi_news.jsonl"), 15):
        ctx = r["context"]
        pred = ". ".join(ctx.split(". ")[: rng.randint(1, 8)])[:1500]
        pred, answers = perturb(rng, pred, r["answers"], [])
        rows.append(row(pred, answers, r["length"]))
    out["multi_news"] = rows
    # multifieldqa_zh: real questions; predictions from the answers and the context.
    for r in load(os.path.join(data, "multifieldqa_zh.jsonl"), 30):
        a = r["answers"][0]
        k = rng.randrange(5)
        if k == 0:
            pred = a
        elif k == 1:
            pred = "根据文章，" + a + "。"
        elif k == 2:
            pred = a[: max(1, len(a) // 2)]
        elif k == 3:
            start = rng.randrange(max(1, len(r["context"]) - 80))
            pred = r["context"][start:start + 80]
        else:
            pred = "The answer is " + a + " (" + r["input"] + ")"
        out["multifieldqa_zh"].append(row(pred, r["answers"], r["length"]))
    # passage_retrieval_zh: real gold ids; predictions naming them in several ways.
    for r in load(os.path.join(data, "passage_retrieval_zh.jsonl"), 30):
        gid = r["answers"][0].replace("段落", "")
        other = str(rng.randint(1, 30))
        pred = rng.choice([
            "段落" + gid, "答案是段落" + gid + "和段落" + other, "段落" + gid.translate(FULLWIDTH),
            "第" + gid + "段", "Paragraph " + other, "段落" + gid + "，段落" + gid + "，段落" + other, "无法确定",
        ])
        out["passage_retrieval_zh"].append(row(pred, r["answers"], r["length"]))
    # lsht: Chinese classification (class names are substrings of each other: 足球 / 国际足球 / 球).
    classes = ["财经", "股票", "体育", "足球", "国际足球", "球", "娱乐", "电影", "科技", "手机", "教育", "房产",
               "汽车", "军事", "国际", "国内", "社会"]
    rows = []
    for i in range(40):
        gold = rng.choice(classes)
        picks = rng.sample(classes, rng.randint(0, 3))
        if rng.random() < 0.6:
            picks.insert(rng.randint(0, len(picks)), gold)
        sep = rng.choice(["、", "，", " ", "\n", "和"])
        pred = rng.choice(["", "类别：", "\n"]) + sep.join(picks)
        rows.append(row(pred, [gold], rng.choice([1200, 3999, 4000, 6000, 7999, 8000, 15000]), classes))
    out["lsht"] = rows
    for subset, rows in sorted(out.items()):
        write("perturbed", subset, rows)


def quirks_set():
    out = {}
    trec_classes = ["loc", "location", "other location", "city", "other", "date", "other date", "date"]
    out["trec"] = [
        # list-mutation skip: "loc" removed, so "location" is skipped and survives → 1/2
        row("other location", ["other location"], 100, trec_classes),
        # no skip: matches ["city", "other location"] → 1/2
        row("city or other location", ["other location"], 100, trec_classes),
        # gold not matched → 0
        row("city", ["date"], 100, trec_classes),
        # duplicate class names: remove() deletes the first equal element
        row("other date", ["other date"], 100, trec_classes),
        row("\n\nother\nlocation", ["other"], 100, trec_classes),  # first-line rule
        row("", ["city"], 100, trec_classes),
        # the LAST row's all_classes is used for every row (eval.py keeps its loop variable)
        row("location city", ["city"], 100, ["city", "location", "other location", "loc", "other", "date", "other date"]),
    ]
    steps = lambda s: " ".join("w%d" % k for k in range(s))
    out["gov_report"] = [
        row("the cat sat on the mat", ["the cat sat on the mat"], 10, None),
        row("the the the cat", ["the cat the cat"], 10, None),  # distinct words: m = n = 2
        row("a. . b", ["a b"], 10, None),  # " " piece survives as "" (emptiness tested before folding)
        row("...", ["a b"], 10, None),  # only empty pieces → no sentence → 0
        row("", ["a"], 10, None),
        row("a b", [""], 10, None),
        row(steps(990), ["w0"], 10, None),  # 990-step back-trace: scored
        row(steps(991), ["w0"], 10, None),  # 991 steps: RecursionError → 0
        row(steps(991), ["w0 w990"], 10, None),
        row("w0 " + steps(1500) + ". w0", ["w0"], 10, None),  # one failing sentence pair fails everything
        row("x y z. a b c. x a", ["a b c x. z y"], 10, None),
        row("Hello,   World.\tNew\u3000line", ["hello world. new line"], 10, None),
    ]
    han = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如些小现想开实"
    zsteps = lambda s: " ".join(["甲"] + [han[k % len(han)] for k in range(1, s)])
    out["dureader"] = [
        row(zsteps(989), ["甲"], 9000, None),
        row(zsteps(990), ["甲"], 9000, None),  # rouge_zh runs one frame deeper: 990 steps already fail
        row("热诚传说X 结局是百合？", ["热诚传说X结局是百合"], 9000, None),
        row("北京大学和清华大学。都在北京.在海淀区", ["清华大学在北京海淀区。"], 9000, None),
        row("", ["答案"], 9000, None),
        row("3.14%的增长率，AT&T和C++", ["增长率3.14%"], 9000, None),
    ]
    long_answer = "    public static void main(String[] args) { System.out.println(\"hello\" + args.length + \"  \"); }" * 3
    out["lcc"] = [
        row("abcdefgh", ["abcdxxxx"], 100, None),  # 2*4/16 → 50
        row("abcdefgh", ["axxxxxxx"], 100, None),  # 2*1/16*100 = 12.5 → 12 (half-even)
        row("abcdefgh", ["abcxxxxx"], 100, None),  # 37.5 → 38
        row("abcdefgh", ["abcdexxx"], 100, None),  # 62.5 → 62
        row(long_answer.replace("hello", "world"), [long_answer], 100, None),  # 200+ chars: autojunk
        row("    public static void main(String[] args) {", [long_answer], 100, None),
        row("# comment\n// also\n```\nreal line", ["real line"], 100, None),
        row("# only comments", ["x"], 100, None),
        row("\n\n", [""], 100, None),  # "" == "" → 100
        row("x = 1", [""], 100, None),
        row("\n\nfoo(bar)", ["foo(baz)"], 100, None),
    ]
    out["passage_retrieval_en"] = [
        row("Paragraph 12", ["Paragraph 12"], 100, None),
        row("Paragraph １２", ["Paragraph 12"], 100, None),  # fullwidth is \d but not equal
        row("Paragraph 12 and 3 and 12", ["Paragraph 12"], 100, None),
        row("Paragraph ١٢", ["Paragraph ١٢"], 100, None),  # Arabic-Indic digits on both sides
        row("no number", ["Paragraph 5"], 100, None),
        row("012", ["Paragraph 12"], 100, None),
    ]
    out["passage_count"] = [
        row("There are 5 paragraphs", ["5"], 100, None),
        row("5, 5 and 05", ["5"], 100, None),
        row("٥", ["٥"], 100, None),
        row("", ["3"], 100, None),
    ]
    out["narrativeqa"] = [
        row("The Answer!", ["answer"], 100, None),
        row("an apple a day", ["apple day"], 100, None),
        row("theater thea the_a", ["theater thea"], 100, None),  # \b: "the_a" is one word
        row("éa the", ["Éa"], 100, None),  # Unicode lowercase; 'é' is a word character for \b
        row("ΣΑΣ ΟΔΟΣ", ["σας οδος"], 100, None),  # final sigma
        row("İstanbul", ["i̇stanbul"], 100, None),  # U+0130 lowercases to i + U+0307
        row("a\u3000b\xa0c", ["a b c"], 100, None),  # Unicode whitespace
        row("«the» cat", ["cat"], 100, None),  # « is not in string.punctuation
        row("", ["x"], 100, None),
        row("x", [], 100, None),
    ]
    out["multifieldqa_zh"] = [
        row("厦门大学。", ["厦门大学"], 100, None),
        row("《热诚传说》动画的结局", ["热诚传说的结局"], 100, None),  # 《 is not in cn_punctuation, 》 is
        row("ABC公司 2023年", ["abc公司2023年"], 100, None),
        row("  ", ["答案"], 100, None),
    ]
    out["samsum"] = [
        row("\n\nFirst line.\nSecond line.", ["First line."], 100, None),
        row("\r\nA line\r\nB", ["A line"], 100, None),
        row("\n", ["x"], 100, None),
    ]
    for subset, rows in sorted(out.items()):
        write("quirks", subset, rows)


def jieba_texts(shared):
    """inputs/jieba_texts.jsonl: texts for a direct comparison with jieba.cut (random mixes of Han, ASCII, digits
    with '.', '%', whitespace incl. \r\n, punctuation, other scripts; and slices of the real Chinese contexts)."""
    rng = random.Random(7)
    han = list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
               "而方后多定行学法所民得经十三之进着等部度家电力里如些小现想开实厦门大学亿元段落热诚传说结局之乎者也龘靐齉")
    asc = list("abcXYZ019.%-_+#& \t\n\r") + ["\r\n", "3.14", "50%", "v1.2", "C++", "AT&T"]
    other = list("，。！？“”《》：；、（）０１２３٣४ΣσΑΩ😀é\u00a0\u3000\u2028\u9fd6\u9fa5\u4e00\u3400")
    texts = []
    for _ in range(400):
        pool = rng.choice([han, han + asc, han + asc + other, asc + other])
        texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    data = os.path.join(shared, "data", "longbench")
    for name in ["multifieldqa_zh", "passage_retrieval_zh"]:
        for r in load(os.path.join(data, name + ".jsonl"), 25):
            start = rng.randrange(max(1, len(r["context"]) - 300))
            texts.append(r["context"][start:start + 300])
    with open(os.path.join(HERE, "inputs", "jieba_texts.jsonl"), "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "..", "shared"))
    args = ap.parse_args()
    perturbed_set(args.shared)
    quirks_set()
    jieba_texts(args.shared)


if __name__ == "__main__":
    main()
