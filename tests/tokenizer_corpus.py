"""The strings kvbench's tokenizers are checked on against HF (tests/gpu/tokenizer_parity.py on the GPU
machine, tests/hf_oracle/compare.py on the CPU): llama.cpp's tokenizer test inputs, hand-written edge cases,
seeded random mixtures, invalid UTF-8 byte strings, and full LongBench prompts built from the real subsets."""
from __future__ import annotations

import json
import random
from pathlib import Path

SPECIAL_TEXTS = ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                 "<|end_header_id|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "[INST]", "[/INST]", "<|eot_id",
                 "<s", "s>", "<|im_start", "<<SYS>>", "<bos>", "<eos>", "<pad>", "<start_of_turn>", "<end_of_turn>",
                 "<start_of_image>", "<start_of_turn", "<|user|>", "<|assistant|>", "<|end|>", "<think>", "</think>"]


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


def chat_conversations(prompts: list[str]) -> list[list[dict]]:
    """The conversations chat formats are checked on against HF's templates (tests/hf_oracle/chat_compare.py,
    tests/gpu/tokenizer_parity.py): the LongBench case first (one user message: each of `prompts`), then system
    messages (empty too), several turns, white space the templates trim, special-token text, Qwen3's think
    blocks and tool-response turns, and conversations some templates refuse (a system role, broken
    alternation), which kvbench must refuse too. Leading white space of assistant messages other than newlines
    is avoided: HF's JavaScript engine strips it in .lstrip('\\n') where Python keeps it."""
    def conv(*turns: tuple[str, str]) -> list[dict]:
        return [{"role": role, "content": content} for role, content in turns]

    return [conv(("user", p)) for p in prompts] + [
        conv(("user", "What is the capital of France?")),
        conv(("user", "  padded question \n\n")),
        conv(("system", " Be concise. "), ("user", "Hi")),
        conv(("system", ""), ("user", "Q")),
        conv(("user", "Q1"), ("assistant", "A1"), ("user", "Q2")),
        conv(("system", "sys"), ("user", "Q1"), ("assistant", "A1"), ("user", "你好 🦙 <s> </s> <end_of_turn> <|end|>")),
        conv(("system", "S"), ("user", "Q1"), ("assistant", "A1")),
        conv(("user", "Q"), ("assistant", "answer with trailing space  \n")),
        conv(("user", "Q"), ("assistant", "\n\nA after newlines")),
        conv(("user", "Q1"), ("assistant", "<think>\nr1\n</think>\n\nA1"), ("user", "Q2"),
             ("assistant", "<think>\nr2\n</think>\n\nA2")),
        conv(("user", "Q"), ("assistant", "A"), ("user", "<tool_response>x</tool_response>"),
             ("assistant", "<think>\n\nr\n</think>B")),
        conv(("user", "Q"), ("assistant", "<think>r</think>\n\nA</think>C")),
        conv(("user", "a"), ("user", "b")),
        conv(("assistant", "first")),
    ]


CHAT_TEMPLATES = Path(__file__).resolve().parent / "data" / "chat-templates"


def chat_templates(data: Path | None) -> list[dict]:
    """The entries of tests/data/chat-templates/templates.json, each with 'text' (the template), 'bos_token'
    and 'eos_token' (from its tokenizer's tokenizer_config.json where it names one) and 'tokenizer_dir' (that
    tokenizer's folder, or None). `data`: the shared data folder (../shared/data or a copy); entries that need
    it are left out when it is None."""
    out = []
    for entry in json.loads((CHAT_TEMPLATES / "templates.json").read_text())["templates"]:
        where = entry["template"]
        if where.startswith("shared:") and data is None:
            continue
        path = data / where[len("shared:"):] if where.startswith("shared:") else CHAT_TEMPLATES / where
        text = json.loads(path.read_text())["chat_template"] if path.suffix == ".json" else path.read_text()
        entry = {**entry, "text": text, "tokenizer_dir": None}
        if "tokenizer" in entry:
            entry["tokenizer_dir"] = data / "tokenizers" / entry["tokenizer"]
            config = json.loads((entry["tokenizer_dir"] / "tokenizer_config.json").read_text())
            entry["bos_token"], entry["eos_token"] = config.get("bos_token"), config.get("eos_token")
        out.append(entry)
    return out


def write_render_tokenizer(folder: Path, bos: str | None, eos: str | None) -> Path:
    """A tokenizer that knows only the BOS/EOS texts (tokenizer.json and tokenizer_config.json in `folder`):
    enough to render a template whose real tokenizer is not at hand (its ids mean nothing)."""
    specials = list(dict.fromkeys(t for t in (bos, eos) if t))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "normalizer": None, "pre_tokenizer": None,
        "post_processor": None, "decoder": None,
        "added_tokens": [{"id": i + 1, "content": t, "special": True, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False} for i, t in enumerate(specials)],
        "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"bos_token": bos, "eos_token": eos}))
    return folder
