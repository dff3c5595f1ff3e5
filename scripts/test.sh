#!/usr/bin/env bash
# README's second command (and what CI runs): dependencies, build, then every test through CTest. Takes the same
# libtorch as scripts/setup.sh (LIBTORCH, PYTHON: see scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/libtorch.sh
kvbench_find_libtorch "${LIBTORCH:-auto}" "${PYTHON:-}"
deps=(--test)
[ "$LIBTORCH_KIND" = system ] || deps+=(--no-libtorch)
bash scripts/deps.sh "${deps[@]}"
KVBENCH_BUILD_TESTS=ON bash scripts/build.sh
# HF tokenizers' Node binding and HF's JavaScript Jinja engine are the oracles of the tokenizer and chat-template
# parity tests (skipped when they cannot be installed).
if command -v npm >/dev/null && { [ ! -d tests/hf_oracle/node_modules/tokenizers ] ||
                                  [ ! -d tests/hf_oracle/node_modules/@huggingface/jinja ]; }; then
  npm install --prefix tests/hf_oracle --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
    echo "note: could not install the HF oracles (tests/hf_oracle/package.json); the parity tests will be skipped"
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)"
