#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/run.sh calls it).

Seeds are small real inputs: the repo's own files, cut-down copies of ../shared's tokenizers and LongBench
rows when ../shared is there, and a few hand-made files for the formats the repo holds no small example of.
Each seed is kept under 64 KiB so that the fuzzer mutates quickly.

usage: make_seeds.py OUT_DIR REPO_ROOT
"""
import json
import os
import struct
import sys

LIMIT = 64 * 1024


def write(out, target, name, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > LIMIT:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors_bytes(tensors, metadata=None):
    header, blob = {}, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(payload)]}
        blob += payload
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + blob


def safetensors_seeds(out):
    write(out, "safetensors", "f32", safetensors_bytes({"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))}))
    write(out, "safetensors", "mixed", safetensors_bytes({
        "model.embed_tokens.weight": ("BF16", [4, 2], b"\x80\x3f" * 8),
        "model.norm.weight": ("F16", [2], b"\x00\x3c" * 2),
        "ids": ("I64", [1], struct.pack("<q", 7)),
        "empty": ("F32", [0, 3], b""),
    }, {"format": "pt"}))


def checkpoint_config_seeds(out, repo):
    demo = os.path.join(repo, "models", "kvbench-demo", "config.json")
    if os.path.exists(demo):
        write(out, "model_config", "demo", open(demo, "rb").read())
    base = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256, "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "torch_dtype": "bfloat16", "tie_word_embeddings": False}
    write(out, "model_config", "llama", json.dumps(base))
    llama3 = dict(base, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 256},
                  eos_token_id=[1, 2], head_dim=16)
    write(out, "model_config", "llama3", json.dumps(llama3))
    write(out, "model_config", "mistral", json.dumps(dict(base, architectures=["MistralForCausalLM"],
                                                         model_type="mistral", sliding_window=128)))
    write(out, "model_config", "qwen2", json.dumps(dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                                                       use_sliding_window=False, tie_word_embeddings=True)))


def small_bpe_tokenizer(path, keep=400):
    """A real tokenizer.json cut to its first `keep` ids, with the merges among them."""
    j = json.load(open(path, encoding="utf-8"))
    model = j["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < keep}
    merges = []
    for m in model.get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    model["vocab"], model["merges"] = vocab, merges
    j["added_tokens"] = [t for t in j.get("added_tokens", [])][:8]
    return json.dumps(j, ensure_ascii=False)


def tokenizer_seeds(out, repo, shared):
    for name in ("llama3_hf", "mistral_hf", "qwen2_hf"):
        path = os.path.join(shared, "data", "tokenizers", name, "tokenizer.json")
        if os.path.exists(path):
            write(out, "hf_tokenizer", name, small_bpe_tokenizer(path))
    tiny = {"version": "1.0", "added_tokens": [{"id": 3, "content": "<s>", "special": True}],
            "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
    write(out, "hf_tokenizer", "tiny", json.dumps(tiny))
    write(out, "sentencepiece", "hand-bpe", small_sentencepiece_model(model_type=2))
    write(out, "sentencepiece", "hand-unigram", small_sentencepiece_model(model_type=1))


def _varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(number, value):
    """One protobuf field: bytes/str as length-delimited, float as fixed32, bool/int as varint."""
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    return _varint(number << 3) + _varint(int(value))


def small_sentencepiece_model(model_type):
    """A SentencePiece ModelProto by hand (the real ones here are 270-500 KB): control, byte and a few
    normal pieces, a trainer spec that names the ids and a normalizer spec."""
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    pieces += [("<0x%02X>" % b, 0.0, 6) for b in range(256)]
    pieces += [(p, -float(i), 1) for i, p in enumerate(["\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "1", "2"])]
    proto = b"".join(_field(1, _field(1, p) + _field(2, s) + _field(3, t)) for p, s, t in pieces)
    trainer = _field(3, model_type) + _field(35, True) + _field(40, 0) + _field(41, 1) + _field(42, 2) + _field(43, -1)
    normalizer = _field(1, "identity") + _field(3, True) + _field(4, False) + _field(5, True)
    return proto + _field(2, trainer) + _field(3, normalizer)


def row_seeds(out, shared):
    rows = [{"input": "What?", "context": "Some context.", "answers": ["yes"], "length": 3, "dataset": "qasper",
             "language": "en", "all_classes": None, "_id": "x1"},
            {"input": "", "context": "", "answers": [], "length": 0, "dataset": "trec", "language": "en",
             "all_classes": ["A", "B"], "_id": "x2"}]
    for n, row in enumerate(rows):
        write(out, "longbench_row", "hand%d" % n, json.dumps(row))
    d = os.path.join(shared, "data", "longbench")
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(d, name), encoding="utf-8") as f:
                row = json.loads(f.readline())
            row["context"] = row.get("context", "")[:2000]
            write(out, "longbench_row", name, json.dumps(row, ensure_ascii=False))


def run_config_seeds(out, repo):
    d = os.path.join(repo, "configs")
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            write(out, "run_config", name, open(os.path.join(d, name), "rb").read())
    # Issue 29's shapes, for the fuzzer to grow from: nesting at and past the limit, a repeated key, edge numbers.
    base = '{"model": {"random": {}}, "prompt": {"random_ids": {"tokens": 64}}, "policies": [{"name": "snapkv", "budget": %s}]}'
    write(out, "run_config", "nest-63", base % ("[" * 63 + "1" + "]" * 63))
    write(out, "run_config", "nest-200", base % ("[" * 200 + "1" + "]" * 200))
    write(out, "run_config", "repeated-key", base % '64, "budget": 65')
    write(out, "run_config", "budget-int64", base % "9223372036854775807")
    write(out, "run_config", "kv-bytes-inf", base % '{"kv_bytes": "inf"}')


def prediction_seeds(out, repo, shared):
    # The first byte picks the subset (tests/fuzz/fuzz_predictions.cpp); a few values cover every metric kind.
    sources = []
    golden = os.path.join(shared, "data", "longbench-golden")
    if os.path.isdir(golden):
        sources += [os.path.join(golden, n) for n in sorted(os.listdir(golden)) if n.endswith(".jsonl")]
    inputs = os.path.join(repo, "tests", "data", "metrics", "inputs")
    if os.path.isdir(inputs):
        sources += [os.path.join(inputs, n) for n in sorted(os.listdir(inputs)) if n.endswith(".jsonl")]
    for n, path in enumerate(sources):
        with open(path, "rb") as f:
            lines = f.read().splitlines(keepends=True)[:4]
        write(out, "predictions", "%02d-%s" % (n, os.path.basename(path)), bytes([n]) + b"".join(lines)[:8192])


def main():
    out, repo = sys.argv[1], sys.argv[2]
    shared = os.path.join(repo, "..", "shared")
    safetensors_seeds(out)
    checkpoint_config_seeds(out, repo)
    tokenizer_seeds(out, repo, shared)
    row_seeds(out, shared)
    run_config_seeds(out, repo)
    prediction_seeds(out, repo, shared)


if __name__ == "__main__":
    main()
