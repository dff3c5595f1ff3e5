#!/usr/bin/env python3
"""Two builds of kvbench, and its libtorch path, give the same tokens on the GPU (issue 28, acceptance 1).

    python3 tests/gpu/build_parity.py --kvbench build/kvbench --other build-sm80/kvbench --workdir /tmp/bp [--out F]

`--other` is a build for architecture 80 only (SASS 8.0 + PTX: on a newer GPU the driver compiles the PTX).
Its tokens must equal the default build's on decode_parity.py's checkpoints and prompts, for every variant, on
the fast path (graph decode, batched) and the reference path, in f32 (and bf16 on d128_g4: same source, same
arithmetic).
Then the default build with KVBENCH_CUDA_KERNELS=off (every fused operation on libtorch) must give the same f32
tokens as with its kernels on the reference decode path (the only decode path without kernels); bf16 is reported
for information. Exit 0 iff every gate passes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import decode_parity as dp  # noqa: E402


def version(kvbench: str, env: dict | None = None) -> str:
    return subprocess.run([kvbench, "--version"], capture_output=True, text=True, env=env).stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvbench", required=True, help="the default build")
    ap.add_argument("--other", required=True, help="a build for architecture 80 only")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(version(args.other), flush=True)
    if "kvbench kernels: run" not in version(args.other):
        print("FAIL: the architecture-80 build's kernels do not run on this GPU (see --version above)")
        return 1
    results, gates = {}, []

    def compare(label: str, a: dict, b: dict, gate: bool = True) -> None:
        ok, detail = dp.agree(a, b)
        results[label] = {"identical": ok, "first_difference": detail, "gate": gate}
        if gate:
            gates.append(ok)
        print(f"{label}: {'identical' if ok else 'DIFFERENT ' + str(detail)}{'' if gate else ' (info)'}", flush=True)

    for name, shape in dp.MODELS.items():
        model = args.workdir / name
        dp.make_model(args.kvbench, model, shape)
        for dtype in ("f32", "bf16") if name == "d128_g4" else ("f32",):
            for decode, batch in (("graph", "on"), ("reference", "off")):
                tag = f"{name}-{dtype}-{decode}"
                a = dp.run(args.kvbench, args.workdir, model, f"{tag}-default", decode, batch, dtype)
                b = dp.run(args.other, args.workdir, model, f"{tag}-sm80", decode, batch, dtype)
                compare(f"[{name}] {dtype} {decode}: sm80 build vs default build", a, b)
                if decode == "reference":
                    os.environ["KVBENCH_CUDA_KERNELS"] = "off"
                    try:
                        c = dp.run(args.kvbench, args.workdir, model, f"{tag}-libtorch", decode, batch, dtype)
                    finally:
                        del os.environ["KVBENCH_CUDA_KERNELS"]
                    compare(f"[{name}] {dtype} reference: KVBENCH_CUDA_KERNELS=off vs kernels on", c, a,
                            gate=dtype == "f32")
    ok = all(gates)
    results["all_pass"] = ok
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
