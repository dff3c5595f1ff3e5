#!/usr/bin/env python3
"""The fast decode paths on the GPU against the reference path, in float32 (issue 14, acceptance 2).

    python3 tests/gpu/decode_parity.py --kvbench build-gpu/kvbench --workdir /tmp/dp [--out FILE]

`graph` (kvbench's ragged decode-attention kernel, fused RMSNorm / RoPE / SiLU kernels, every step a replayed
CUDA graph) and `ragged` (the same launches without graphs) must generate exactly the tokens of `reference`
(the plain libtorch decode path that tests/gpu/hf_parity.py checks against HF transformers). Random-weights
checkpoints from `kvbench make-tiny` cover the kernel's head dims and GQA groups:
    d128_g4   head dim 128, 8 query / 2 KV heads (the Llama-3 / Mistral group)
    d64_g7    head dim 64, 7 query / 1 KV head (Qwen2-7B's group of 7)
    d32_g1    head dim 32, 4 / 4 heads (plain multi-head attention)
Each: `kvbench run` on 3 random prompts of 700, 1100 and 300 tokens (the decoders are reused across prompts of
other lengths), 40 new tokens, variants full, streaming, snapkv, adakv (ragged heads), pyramidkv (layers of
other sizes), cake (trimmed caches) at budget 96, decoded one by one and batched (model.batch_decode on).
Every variant's tokens must equal the reference run's. Samples in flight (issue 33): 16 prompts of 16 lengths
(the LongBench-16 shape at 0.04 tokens per word: 49 to 736 tokens), each with its subset's max new tokens, the
variants above plus per-query-head caches (snapkv as KVCache-Factory stores it), 16 samples in flight on the
graph path and 3 under a 1 MiB memory budget, against one at a time on the reference path; and the demo model's
CI regression (real stop tokens at different steps) in flight against one at a time: every prediction file
byte for byte. Also the step logits of `kvbench generate` (adakv,
d128_g4) between graph and reference (max |delta|, gate 1e-3), and, informational, how many bf16 tokens agree.
Exit 0 iff every gate passes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MODELS = {
    "d128_g4": dict(hidden=1024, heads=8, kv=2),
    "d64_g7": dict(hidden=448, heads=7, kv=1),
    "d32_g1": dict(hidden=128, heads=4, kv=4),
}
POLICIES = [{"name": "full"}] + [{"name": p, "budget": 96} for p in ("streaming", "snapkv", "adakv", "pyramidkv", "cake")]
PROMPTS = [700, 1100, 300]
NEW = 40


def sh(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def make_model(kvbench: str, out: Path, shape: dict) -> None:
    if (out / "config.json").exists():
        return
    sh([kvbench, "make-tiny", "--out", str(out), "--vocab", "4096", "--hidden", str(shape["hidden"]),
        "--intermediate", str(2 * shape["hidden"]), "--layers", "3", "--heads", str(shape["heads"]),
        "--kv-heads", str(shape["kv"]), "--max-positions", "4096", "--seed", "3"])


def run(kvbench: str, workdir: Path, model: Path, name: str, decode: str, batch: str, dtype: str = "f32") -> dict:
    run_dir = workdir / "runs" / name
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    outputs: dict = {}
    for i, tokens in enumerate(PROMPTS):  # one run per prompt length (a run's random prompts share a length)
        config = {"name": name, "output_dir": str(run_dir / str(i)),
                  "model": {"path": str(model), "device": "cuda", "dtype": dtype, "batch_decode": batch,
                            "decode": decode},
                  "prompt": {"random_ids": {"tokens": tokens, "seed": 11 + i, "count": 1}},
                  "max_new_tokens": NEW, "policies": POLICIES}
        path = workdir / f"{name}-{i}.json"
        path.write_text(json.dumps(config))
        sh([kvbench, "--log-level", "warn", "run", "--config", str(path)])
        for vdir in sorted((run_dir / str(i) / "predictions").iterdir()):
            rows = [json.loads(l) for l in (vdir / "prompt.jsonl").read_text().splitlines()]
            outputs.setdefault(vdir.name, []).extend(r["output_ids"] for r in rows)
    return outputs


def run_in_flight(kvbench: str, workdir: Path, model: Path, name: str, decode: str, in_flight: int,
                  memory="auto") -> Path:
    """One run of 16 prompts of other lengths and max new tokens; returns its folder."""
    run_dir = workdir / "runs" / name
    subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    config = {"name": name, "output_dir": str(run_dir),
              "model": {"path": str(model), "device": "cuda", "dtype": "f32", "decode": decode,
                        "batch_decode": "on", "samples_in_flight": in_flight, "in_flight_memory": memory},
              "prompt": {"random_ids": {"shape": "longbench16", "per_subset": 1, "tokens_per_word": 0.04, "seed": 7}},
              "policies": POLICIES + [{"name": "snapkv", "budget": 96, "reference": "kvcache_factory", "label": "snapkv-kvcf-96"}]}
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    sh([kvbench, "--log-level", "warn", "run", "--config", str(path)])
    return run_dir


def same_predictions(a: Path, b: Path) -> tuple[bool, list[str]]:
    """Every prediction file of run `a` byte for byte in run `b` (rows, and their order)."""
    files = sorted(p.relative_to(a) for p in (a / "predictions").rglob("*.jsonl"))
    differ = [str(f) for f in files if not (b / f).exists() or (a / f).read_bytes() != (b / f).read_bytes()]
    return bool(files) and not differ, differ


def most_in_flight(run_dir: Path) -> int:
    session = json.loads((run_dir / "manifest.json").read_text())["sessions"][0]
    return int(session.get("samples_in_flight", {}).get("most_samples_in_flight", 1))


def in_flight_checks(kvbench: str, workdir: Path, results: dict, gates: list) -> None:
    model = workdir / "d128_g4"
    ref = run_in_flight(kvbench, workdir, model, "flight-reference", "reference", 1)
    for name, decode, n, memory in (("flight-graph-16", "graph", 16, "auto"), ("flight-graph-small", "graph", 3, 1 << 20)):
        got = run_in_flight(kvbench, workdir, model, name, decode, n, memory)
        ok, differ = same_predictions(ref, got)
        most = most_in_flight(got)
        results[name] = {"identical": ok, "differing_files": differ, "most_samples_in_flight": most}
        gates.append(ok and (most > 1 if memory == "auto" else most == 1))
        print(f"[in flight] {name}: {'identical' if ok else 'DIFFERENT ' + str(differ)}, at most {most} samples in flight",
              flush=True)
    demo_config = REPO / "tests" / "data" / "ci" / "demo-regression.json"
    runs = {}
    for name, decode, n in (("demo-reference", "reference", 1), ("demo-graph-in-flight", "graph", 12)):
        out = workdir / "runs" / name
        subprocess.run(["rm", "-rf", str(out)], check=True)
        sh([kvbench, "--log-level", "warn", "run", "--config", str(demo_config), "--output-dir", str(out),
            "--set", "model.device=cuda", "--set", f"model.decode={decode}", "--set", f"model.samples_in_flight={n}"])
        runs[name] = out
    ok, differ = same_predictions(runs["demo-reference"], runs["demo-graph-in-flight"])
    stops = 0  # rows that ended before the longest of their file: a stop token, at a step of their own
    for f in (runs["demo-graph-in-flight"] / "predictions").rglob("*.jsonl"):
        counts = [json.loads(line)["new_tokens"] for line in f.read_text().splitlines()]
        stops += sum(1 for c in counts if c < max(counts))
    results["demo_in_flight"] = {"identical": ok, "differing_files": differ, "rows_ended_by_a_stop": stops,
                                 "most_samples_in_flight": most_in_flight(runs["demo-graph-in-flight"])}
    gates.append(ok and stops > 0)
    print(f"[in flight] demo regression, 12 in flight vs one at a time: {'identical' if ok else 'DIFFERENT ' + str(differ)}"
          f" ({stops} rows ended by a stop token)", flush=True)


def agree(a: dict, b: dict) -> tuple[bool, dict]:
    """Identical tokens for every variant and prompt; else, per variant, the first differing step."""
    detail = {}
    for v in a:
        for x, y in zip(a[v], b[v]):
            if x != y:
                detail[v] = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
    return not detail and a.keys() == b.keys(), detail


def step_logits(kvbench: str, model: Path, decode: str, workdir: Path):
    from safetensors.torch import load_file
    out = workdir / f"logits-{decode}.safetensors"
    ids = ",".join(str(3 + (i * 37) % 4000) for i in range(900))
    res = json.loads(sh([kvbench, "--log-level", "warn", "generate", "--model", str(model), "--prompt-ids", ids,
                         "--max-new", str(NEW), "--ignore-eos", "--device", "cuda", "--dtype", "f32",
                         "--policy", "adakv", "--budget", "96", "--decode-path", decode, "--logits-out", str(out),
                         "--json", "--no-kept"]).strip().splitlines()[-1])
    return res, load_file(str(out))["step_logits"].float()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results, gates = {}, []
    for name, shape in MODELS.items():
        model = args.workdir / name
        make_model(args.kvbench, model, shape)
        ref = run(args.kvbench, args.workdir, model, f"{name}-reference", "reference", "off")
        for decode, batch in (("graph", "off"), ("graph", "on"), ("ragged", "on")):
            if decode == "ragged" and name != "d128_g4":
                continue
            got = run(args.kvbench, args.workdir, model, f"{name}-{decode}-{batch}", decode, batch)
            ok, detail = agree(got, ref)
            results[f"{name} {decode} batch={batch}"] = {"identical": ok, "first_difference": detail}
            gates.append(ok)
            print(f"[{name}] {decode:6s} batch_decode={batch:3s}: {'identical' if ok else 'DIFFERENT ' + str(detail)}",
                  flush=True)
    in_flight_checks(args.kvbench, args.workdir, results, gates)
    model = args.workdir / "d128_g4"
    a, la = step_logits(args.kvbench, model, "graph", args.workdir)
    b, lb = step_logits(args.kvbench, model, "reference", args.workdir)
    diff = float((la - lb).abs().max())
    results["step_logits_max_abs_diff"] = diff
    results["generate_paths"] = [a["decode_path"], b["decode_path"]]
    gates.append(diff < 1e-3 and a["output_ids"] == b["output_ids"] and a["decode_path"] == "graph")
    print(f"[d128_g4] generate adakv-96: graph vs reference step logits max|d| {diff:.2e}, tokens "
          f"{'identical' if a['output_ids'] == b['output_ids'] else 'DIFFERENT'}")
    ref16 = run(args.kvbench, args.workdir, model, "bf16-reference", "reference", "off", "bf16")
    got16 = run(args.kvbench, args.workdir, model, "bf16-graph", "graph", "on", "bf16")
    _, detail16 = agree(got16, ref16)
    results["bf16_first_difference"] = detail16
    print(f"[d128_g4] bf16 graph+batched vs reference (info): "
          f"{'identical' if not detail16 else 'first differences ' + str(detail16)}")
    ok = all(gates)
    results["all_pass"] = ok
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
