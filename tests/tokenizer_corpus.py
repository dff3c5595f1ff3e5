"""The strings kvbench's tokenizers are checked on against HF (tests/gpu/tokenizer_parity.py on the GPU
machine, tests/hf_oracle/compare.py on the CPU): llama.cpp's tokenizer test inputs, hand-written edge cases,
seeded random mixtures, invalid UTF-8 byte strings, and full LongBench prompts built from the real subsets."""
from __future__ import annotations

import json
import random
from pathlib import Path

SPECIAL_TEXTS = ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                 "<|end_header_id|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "[INST]", "[/INST]", "<|eot_id",
                 "<s", "s>", "<|im_start", "<<SYS>>"]


def edge_cases() -> list[str]:
    cases = []
    for n in range(1, 21):
        cases += [" " * n, "\t" * n, "\n" * n, " \n" * n, "a" + " " * n + "b", " " * n + "Hello", "x\r\n" * n]
    cases += ["\u00a0", "a\u00a0b", "\u3000\u3000x", "\u2028", "\u200b", "\ufeffBOM", "\u00ad", "tab\tand\vvt\fff"]
    for n in [1, 2, 3, 4, 5, 7, 10, 16, 33]:
        cases += ["7" * n, "1234567890"[:n] + " apples", f"{'9' * n}.{'5' * n}", "-" + "3" * n]
    cases += ["3.14159", "1,000,000", "2024-11-28", "v1.2.3", "0x1F600", "١٢٣٤", "१२३", "½ ¾ ⅓", "²³"]
    cases += ["🦙", "🚀🚀🚀", "😶‍🌫️", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "✅ done", "a🦙b", " 🦙 ", "❤️", "©®™"]
    cases += ["你好，世界！", "我想在apple工作1314151天～", "日本語のテキスト、カタカナ", "한국어 텍스트입니다",
              "中文English混合123", "「引用」『二重』", "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ"]
    cases += ["e\u0301", "cafe\u0301", "Cu\u031bo\u0309a Vie\u0323\u0302t", "\u1100\u1161\u11a8", "a\u0300\u0301\u0302",
              "Ä", "A\u0308pfel", "ﬁ ligature", "Ω Ω", "ǅ ǆ", "İstanbul", "ß SS"]
    cases += ["مرحبا بالعالم", "שלום עולם", "สวัสดีครับ", "नमस्ते दुनिया", "Привет, мир!", "Γειά σου Κόσμε", "ქართული"]
    cases += ["".join(chr(c) for c in range(1, 32)), "\x00null", "del\x7f", "\x1b[31mred\x1b[0m"]
    cases += ["don't", "DON'T", "you're", "I'M", "we'll", "she'd", "it’s", "'s'", "''", "'", "y'all"]
    cases += ["https://example.com/path?q=1&r=2#frag", "user@example.com", "def f(x):\n    return x ** 2\n",
              "for (int i = 0; i < n; ++i) { a[i] = 0; }", "<html><body>hi</body></html>", "$\\frac{a}{b}$"]
    cases += ["a" * 3000, "!" * 1000, " " * 2000 + "x", "ab" * 2000, "\n\n\n" * 300, "😀" * 300, "中" * 1500]
    for s in SPECIAL_TEXTS:
        cases += [s, f"Hello {s} world", f"{s}Hello", f"Hello{s}", f" {s} ", f"{s}{s}", f"\n{s}\n"]
    cases += ["", " ", "\n"]
    return cases


def random_mixtures(words: list[str], n: int, rng: random.Random) -> list[str]:
    pool_extra = [" ", "  ", "\n", "\t", "\n\n", ", ", ". ", "!", "?", "'s", "'", "\"", "(", ")", "123", "4567", "0",
                  "🦙", "😀", "🇯🇵", "你好", "世界", "é", "e\u0301", "ß", "\u00a0", "\u3000", "—", "…", "<s>", "<|eot_id|>",
                  "<|im_end|>", "</s>", "ǅ", "İ", "ﬁ", "١٢", "\r\n", "  \n ", "ID_", "_", "--", "==", "->"]
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        parts = [rng.choice(words) if rng.random() < 0.6 else rng.choice(pool_extra) for _ in range(k)]
        joiner = rng.choice(["", " ", " ", "\n"])
        out.append(joiner.join(parts))
    return out


def invalid_utf8(n: int, rng: random.Random) -> list[bytes]:
    out = [b"\xe2\x82", b"a\xc0\xafb", b"\xed\xa0\x80x", b"\xf0\x9f\xa6", b"\xff\xfe", b"ok\x80", b"\xf4\x90\x80\x80"]
    while len(out) < n:
        b = bytearray(rng.choice(["Hello ", "你好", "🦙", "x"]).encode())
        for _ in range(rng.randint(1, 6)):
            b.insert(rng.randint(0, len(b)), rng.randint(0x80, 0xff))
        out.append(bytes(b))
    return out


def longbench_prompts(data: Path) -> list[str]:
    templates = json.loads((data / "longbench/dataset2prompt.json").read_text())
    prompts = []
    for name in ["multi_news", "multifieldqa_zh", "passage_retrieval_zh"]:
        for line in (data / f"longbench/{name}.jsonl").read_text().splitlines():
            row = json.loads(line)
            prompts.append(templates[name].format(context=row["context"], input=row["input"]))
    return prompts


def ggml_inputs(data: Path) -> list[str]:
    out = []
    for f in sorted((data / "tokenizer-tests").glob("*.inp")):
        out += f.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    return out


def build_corpus(data: Path, n_random: int = 1500, seed: int = 1234) -> tuple[list[str], list[bytes], list[str]]:
    """(texts, invalid UTF-8 byte strings, full LongBench prompts); texts include the prompts and their heads."""
    rng = random.Random(seed)
    prompts = longbench_prompts(data)
    words = [w for p in prompts[:60] for w in p.split()[:300]]
    texts = ggml_inputs(data) + edge_cases() + random_mixtures(words, n_random, rng)
    texts += [p[:rng.randint(100, 3000)] for p in prompts]  # prompt heads, cut at arbitrary characters
    texts += prompts
    return texts, invalid_utf8(60, rng), prompts
