#!/usr/bin/env python3
"""Tiny random checkpoints of every model family kvbench loads, written by HF transformers, with HF's outputs.

Usage (on a machine with transformers 5, torch and safetensors; a CPU is enough, no network):
    python3 tests/gpu/make_family_fixtures.py --out DIR [--only qwen3,gemma2] [--device cpu]

For each family below it builds a small model with every feature of the family switched on (sliding windows
shorter than the prompts, soft-capping, q/k norms, experts, each RoPE scaling), re-draws its weights at unit
scale (so greedy tokens do not hinge on float rounding), saves it with save_pretrained in float32, reloads it
from disk and records, for fixed prompt ids, HF's float32 logits of every prompt position (one prefill, eager
attention) and the greedy tokens of generate(do_sample=False) with the logits each was chosen from. Each family
goes to DIR/<name>/:
    config.json, model.safetensors, ...    what save_pretrained wrote (left as it is)
    hf_expected.safetensors                prompt.<i> int64 [T], logits.<i> f32 [T, V], greedy.<i> int64 [N],
                                           step_logits.<i> f32 [N, V]
    hf_expected.json                       the same ids and tokens, the features switched on, the versions, the
                                           saved tensor names and what the reload check found
kvbench's CPU test FamilyParity.* (tests/test_family_parity.cpp) compares against these once the folders are
committed under tests/data/families/. One family failing does not stop the others; a summary table ends the
run and the exit code is the number of families that failed. Everything is seeded: a rerun writes the same
files (up to the versions recorded).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

NEW_TOKENS = 16
VOCAB = 128
TOKEN_RANGE = (3, 120)  # prompt ids stay clear of the special ids (0-2) and gemma3_mm's image ids (125-127)
LM_HEAD_GAIN = 4.0
SEED = 20260531
TRANSFORMERS_MAJOR = int(transformers.__version__.split(".")[0])

# Shapes shared by the families: hidden <= 64, a few layers, GQA 4/2. head_dim is explicit (16, not hidden/heads)
# wherever the family has the key, so a loader deriving it from hidden/heads fails.
BASE = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2,
            rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)
WINDOW = 16  # sliding window of every windowed family: prompts are 3-6x longer


def longrope_factors(n: int, gen: torch.Generator) -> tuple[list[float], list[float]]:
    short = (1.0 + 0.5 * torch.rand(n, generator=gen, dtype=torch.float64)).tolist()
    long = (1.0 + 6.0 * torch.rand(n, generator=gen, dtype=torch.float64)).sort().values.tolist()
    return short, long


# name -> dict(cls: config class name, model: model class name, fields: config kwargs, rope: transformers-5
#              rope_parameters, rope4: the transformers-4 spelling (rope_theta + rope_scaling ...), prompts: lengths,
#              features: what the fixture exercises)
def families() -> dict:
    gen = torch.Generator().manual_seed(SEED)
    short, long = longrope_factors(6, gen)  # phi3: head_dim 16 x partial_rotary_factor 0.75 = 12 rotary dims
    return {
        "llama_dynamic": dict(
            cls="LlamaConfig", model="LlamaForCausalLM",
            fields=dict(num_hidden_layers=2, max_position_embeddings=48, attention_bias=True, mlp_bias=True,
                        hidden_act="silu", tie_word_embeddings=False),
            rope=dict(rope_type="dynamic", rope_theta=10000.0, factor=2.0),
            prompts=[96, 40], features=["dynamic NTK rope (prompts past max_position_embeddings 48 and not)",
                                        "attention and MLP biases"]),
        "mistral": dict(
            cls="MistralConfig", model="MistralForCausalLM",
            fields=dict(num_hidden_layers=2, max_position_embeddings=4096, sliding_window=WINDOW, hidden_act="silu",
                        tie_word_embeddings=False),
            rope=dict(rope_type="default", rope_theta=10000.0),
            prompts=[80, 37], features=["sliding window 16 on every layer (Mistral v0.1)"]),
        "qwen2": dict(
            cls="Qwen2Config", model="Qwen2ForCausalLM",
            fields=dict(num_hidden_layers=3, max_position_embeddings=256, use_sliding_window=True,
                        sliding_window=WINDOW, max_window_layers=1, hidden_act="silu", tie_word_embeddings=True),
            rope=dict(rope_type="yarn", rope_theta=1000000.0, factor=4.0, original_max_position_embeddings=64,
                      truncate=False),
            prompts=[90, 41], features=["yarn rope (factor 4, truncate false)", "q/k/v biases", "tied embeddings",
                                        "sliding window 16 on layers >= max_window_layers 1"]),
        "qwen3": dict(
            cls="Qwen3Config", model="Qwen3ForCausalLM",
            fields=dict(num_hidden_layers=3, head_dim=16, max_position_embeddings=256, use_sliding_window=True,
                        sliding_window=WINDOW, max_window_layers=2, hidden_act="silu", tie_word_embeddings=False),
            rope=dict(rope_type="yarn", rope_theta=1000000.0, factor=4.0, original_max_position_embeddings=64),
            prompts=[88, 45], features=["q_norm/k_norm before rope", "explicit head_dim 16 (hidden/heads = 8)",
                                        "yarn rope (factor 4)", "sliding window 16 on layer 2"]),
        "qwen3_moe": dict(
            cls="Qwen3MoeConfig", model="Qwen3MoeForCausalLM",
            fields=dict(num_hidden_layers=3, head_dim=16, intermediate_size=48, moe_intermediate_size=24,
                        num_experts=8, num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1,
                        mlp_only_layers=[1], max_position_embeddings=4096, hidden_act="silu",
                        tie_word_embeddings=False, output_router_logits=False),
            rope=dict(rope_type="default", rope_theta=1000000.0),
            prompts=[70, 33], features=["8 experts, top-2, norm_topk_prob false", "layer 1 dense (mlp_only_layers)",
                                        "q_norm/k_norm", "explicit head_dim 16"]),
        "mixtral": dict(
            cls="MixtralConfig", model="MixtralForCausalLM",
            fields=dict(num_hidden_layers=2, num_local_experts=4, num_experts_per_tok=2, sliding_window=WINDOW,
                        max_position_embeddings=4096, hidden_act="silu", tie_word_embeddings=False,
                        output_router_logits=False, router_jitter_noise=0.0),
            rope=dict(rope_type="default", rope_theta=1000000.0),
            prompts=[72, 35], features=["4 experts, top-2, normalised routing weights", "sliding window 16"]),
        "phi3": dict(
            cls="Phi3Config", model="Phi3ForCausalLM",
            fields=dict(num_hidden_layers=2, hidden_size=64, intermediate_size=96, max_position_embeddings=256,
                        original_max_position_embeddings=64, sliding_window=24, hidden_act="silu",
                        tie_word_embeddings=True, partial_rotary_factor=0.75, pad_token_id=0, eos_token_id=2),
            rope=dict(rope_type="longrope", rope_theta=10000.0, short_factor=short, long_factor=long,
                      original_max_position_embeddings=64, partial_rotary_factor=0.75),
            # 40 + 16 new tokens stay within original_max_position_embeddings (short factors throughout); 100 is past
            # it (long factors from the prefill on)
            prompts=[100, 40], features=["fused qkv_proj and gate_up_proj", "longrope, short and long factors",
                                         "partial_rotary_factor 0.75", "sliding window 24", "tied embeddings"]),
        "gemma2": dict(
            cls="Gemma2Config", model="Gemma2ForCausalLM",
            fields=dict(num_hidden_layers=4, head_dim=16, query_pre_attn_scalar=24, sliding_window=WINDOW,
                        attn_logit_softcapping=2.0, final_logit_softcapping=8.0, max_position_embeddings=4096,
                        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True),
            rope=dict(rope_type="default", rope_theta=10000.0),
            prompts=[84, 39], features=["interleaved sliding (16) and global layers", "attention soft-capping 2",
                                        "final soft-capping 8", "query_pre_attn_scalar 24 (head_dim 16)",
                                        "pre/post norms, (1 + w) RMSNorm", "embeddings x sqrt(hidden)",
                                        "GeGLU (tanh)", "tied embeddings"]),
        "gemma3": dict(
            cls="Gemma3TextConfig", model="Gemma3ForCausalLM",
            fields=dict(num_hidden_layers=6, head_dim=16, query_pre_attn_scalar=24, sliding_window=WINDOW,
                        max_position_embeddings=4096, hidden_activation="gelu_pytorch_tanh",
                        tie_word_embeddings=True),
            rope={"full_attention": dict(rope_type="linear", rope_theta=1000000.0, factor=8.0),
                  "sliding_attention": dict(rope_type="default", rope_theta=10000.0)},
            rope4=dict(rope_theta=1000000.0, rope_local_base_freq=10000.0,
                       rope_scaling=dict(rope_type="linear", factor=8.0)),
            prompts=[86, 42], features=["5 local : 1 global layers", "q_norm/k_norm", "local rope base 1e4, global "
                                        "1e6 with linear scaling 8", "no soft-capping", "Gemma3ForCausalLM"]),
        "gemma3_mm": dict(
            cls="Gemma3Config", model="Gemma3ForConditionalGeneration",
            fields=None,  # built by gemma3_mm_config
            prompts=[74, 36], features=["Gemma3ForConditionalGeneration: text_config and the language model's "
                                        "tensor names, a tiny vision tower beside it"]),
    }


# ----------------------------------------------------------------------------- building

def config_class(name: str):
    cls = getattr(transformers, name, None)
    if cls is None:
        raise RuntimeError(f"transformers {transformers.__version__} has no {name}")
    return cls


def make_config(spec: dict):
    """transformers 5 spells RoPE as `rope_parameters` (rope_theta inside); 4.x as rope_theta + rope_scaling."""
    cls = config_class(spec["cls"])
    fields = {**BASE, **spec["fields"]}
    rope = spec["rope"]
    if TRANSFORMERS_MAJOR >= 5:
        try:
            return cls(**fields, rope_parameters=json.loads(json.dumps(rope)))
        except (TypeError, ValueError) as e:
            print(f"  {cls.__name__}(rope_parameters=...) rejected ({e}); trying the transformers-4 spelling")
    if "rope4" in spec:
        return cls(**fields, **spec["rope4"])
    scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
    scaling["type"] = scaling["rope_type"]
    return cls(**fields, rope_theta=rope["rope_theta"], rope_scaling=None if rope["rope_type"] == "default" else scaling)


def gemma3_mm_config(spec_text: dict):
    text = {**BASE, **spec_text["fields"]}
    if TRANSFORMERS_MAJOR >= 5:
        text["rope_parameters"] = json.loads(json.dumps(spec_text["rope"]))
    else:
        text.update(spec_text["rope4"])
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28,
                  patch_size=14, vision_use_head=False)
    return config_class("Gemma3Config")(text_config=text, vision_config=vision, mm_tokens_per_image=4,
                                        boi_token_index=125, eoi_token_index=126, image_token_index=127,
                                        tie_word_embeddings=True)


@torch.no_grad()
def reinit_(model, gemma_norms: bool, seed: int) -> None:
    """Unit-scale weights of the language model (HF's std 0.02 init gives nearly flat logits). Gemma's RMSNorm
    scales by (1 + w), so its norm weights are drawn around 0 instead of 1. The vision tower keeps HF's init."""
    gen = torch.Generator().manual_seed(seed)
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    hidden = model.get_input_embeddings().weight.shape[1]

    def randn(p, std, mean=0.0):
        p.copy_(mean + std * torch.randn(p.shape, generator=gen, dtype=torch.float32))

    for name, p in model.named_parameters():  # tied parameters are listed once
        if "vision_tower" in name or "multi_modal_projector" in name:
            continue
        if p.dim() == 1 and "norm" in name:
            randn(p, 0.1, mean=0.0 if gemma_norms else 1.0)
        elif name.endswith(".bias"):
            randn(p, 0.1)
        elif "embed_tokens" in name:  # tied: it is the lm_head too, so scale it like one
            randn(p, LM_HEAD_GAIN / math.sqrt(hidden) if tied else 1.0)
        elif "lm_head" in name:
            randn(p, LM_HEAD_GAIN / math.sqrt(p.shape[-1]))
        elif p.dim() == 3:  # fused experts [E, out, in]
            randn(p, 1.0 / math.sqrt(p.shape[-1]))
        elif p.dim() == 2:
            randn(p, 1.0 / math.sqrt(p.shape[1]))
        else:
            raise RuntimeError(f"reinit_: no rule for parameter {name} {tuple(p.shape)}")


def model_class(name: str):
    cls = getattr(transformers, name, None)
    if cls is None:
        raise RuntimeError(f"transformers {transformers.__version__} has no {name}")
    return cls


def set_attn(config, attn: str) -> None:
    config._attn_implementation = attn
    for sub in ("text_config", "vision_config"):
        if getattr(config, sub, None) is not None:
            getattr(config, sub)._attn_implementation = attn


def load(cls, out_dir: Path, device: str):
    try:
        model = cls.from_pretrained(str(out_dir), dtype=torch.float32, attn_implementation="eager")
    except TypeError:  # transformers 4: torch_dtype
        model = cls.from_pretrained(str(out_dir), torch_dtype=torch.float32, attn_implementation="eager")
    return model.to(device=device, dtype=torch.float32).eval()


@torch.no_grad()
def prefill_logits(model, ids: list[int], device: str) -> torch.Tensor:
    return model(input_ids=torch.tensor([ids], device=device), use_cache=False).logits[0].float().cpu()


@torch.no_grad()
def greedy(model, ids: list[int], device: str) -> tuple[list[int], torch.Tensor]:
    gc = model.generation_config
    gc.eos_token_id = None  # never stop early: every fixture has NEW_TOKENS tokens
    gc.pad_token_id = 0
    gc.do_sample = False
    for key in ("temperature", "top_p", "top_k"):
        if hasattr(gc, key):
            setattr(gc, key, None)
    out = model.generate(input_ids=torch.tensor([ids], device=device), do_sample=False, max_new_tokens=NEW_TOKENS,
                         output_logits=True, return_dict_in_generate=True)
    tokens = out.sequences[0, len(ids):].tolist()
    steps = torch.stack([l[0].float().cpu() for l in out.logits])
    if len(tokens) != NEW_TOKENS:
        raise RuntimeError(f"generate returned {len(tokens)} tokens, not {NEW_TOKENS}")
    if tokens != steps.argmax(-1).tolist():
        raise RuntimeError("generate's tokens are not the argmax of its own step logits")
    return tokens, steps


def top2_margin(logits: torch.Tensor) -> float:
    top = logits.topk(2, dim=-1).values
    return (top[..., 0] - top[..., 1]).min().item()


def build_family(name: str, spec: dict, out_dir: Path, device: str, seed: int) -> dict:
    torch.manual_seed(seed)
    if spec["model"] == "Gemma3ForConditionalGeneration":
        config = gemma3_mm_config(families()["gemma3"])
    else:
        config = make_config(spec)
    set_attn(config, "eager")
    cls = model_class(spec["model"])
    model = cls(config).float().eval()
    reinit_(model, gemma_norms=spec["cls"].startswith("Gemma"), seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    weights = sorted(out_dir.glob("*.safetensors"))
    if not weights:
        raise RuntimeError(f"{out_dir}: save_pretrained wrote no .safetensors file")

    gen = torch.Generator().manual_seed(seed + 1)
    prompts = [torch.randint(*TOKEN_RANGE, (n,), generator=gen).tolist() for n in spec["prompts"]]
    in_memory = [prefill_logits(model.to(device), ids, device) for ids in prompts]
    del model

    model = load(cls, out_dir, device)  # the oracle runs on what the files hold
    tensors, record = {}, {"prompts": []}
    reload_diff = 0.0
    for i, ids in enumerate(prompts):
        logits = prefill_logits(model, ids, device)
        reload_diff = max(reload_diff, (logits - in_memory[i]).abs().max().item())
        tokens, steps = greedy(model, ids, device)
        tensors[f"prompt.{i}"] = torch.tensor(ids, dtype=torch.int64)
        tensors[f"logits.{i}"] = logits.contiguous()
        tensors[f"greedy.{i}"] = torch.tensor(tokens, dtype=torch.int64)
        tensors[f"step_logits.{i}"] = steps.contiguous()
        record["prompts"].append({"length": len(ids), "ids": ids, "greedy": tokens,
                                  "min_top2_margin_prompt": top2_margin(logits),
                                  "min_top2_margin_steps": top2_margin(steps)})
    if reload_diff > 1e-5:
        raise RuntimeError(f"logits after reloading the saved files differ by {reload_diff:.2e} from the model that "
                           "wrote them: save_pretrained did not keep every weight")
    save_file(tensors, str(out_dir / "hf_expected.safetensors"))

    names = []
    for f in weights:
        with safe_open(str(f), framework="pt") as h:
            names += list(h.keys())
    saved = json.loads((out_dir / "config.json").read_text())
    record.update({
        "family": name, "architecture": spec["model"], "features": spec["features"],
        "transformers": transformers.__version__, "torch": torch.__version__, "device": device,
        "new_tokens": NEW_TOKENS, "seed": seed, "reload_max_abs_diff": reload_diff,
        "saved_tensor_names": sorted(names),
        "config_keys": sorted(saved.keys()),
    })
    (out_dir / "hf_expected.json").write_text(json.dumps(record, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    return {"bytes": size, "prompt_lengths": [len(p) for p in prompts], "tensors": len(names),
            "min_margin": min(min(p["min_top2_margin_prompt"], p["min_top2_margin_steps"]) for p in record["prompts"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder that receives one sub-folder per family")
    ap.add_argument("--only", default=None, help="comma list of families (default: all)")
    ap.add_argument("--device", default="cpu", help="where HF runs (cpu: no TF32, no nondeterministic kernels)")
    args = ap.parse_args()

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    specs = families()
    names = list(specs) if args.only is None else args.only.split(",")
    unknown = [n for n in names if n not in specs]
    if unknown:
        ap.error(f"unknown families {unknown} (known: {', '.join(specs)})")
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, device {args.device}")
    out = Path(args.out)
    results = {}
    for i, name in enumerate(names):
        t0 = time.time()
        try:
            r = build_family(name, specs[name], out / name, args.device, SEED + 1000 * (i + 1))
            results[name] = ("OK", f"{r['bytes'] / 1e3:.0f} kB, prompts {r['prompt_lengths']}, {r['tensors']} "
                                   f"tensors, min top-2 margin {r['min_margin']:.2e}, {time.time() - t0:.1f}s")
        except Exception as e:  # one family failing must not stop the others
            traceback.print_exc()
            results[name] = ("FAIL", f"{type(e).__name__}: {e}"[:300])
        print(f"[{name}] {results[name][0]}: {results[name][1]}", flush=True)

    width = max(len(n) for n in results)
    print("\nsummary")
    for name, (status, detail) in results.items():
        print(f"  {name:<{width}}  {status:<4}  {detail}")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) if out.exists() else 0
    failed = sum(status != "OK" for status, _ in results.values())
    print(f"{len(results) - failed}/{len(results)} families written, {total / 1e6:.2f} MB in {out}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
