#!/usr/bin/env bash
# README's first command: dependencies, build, then the main job on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
rm -rf results/smoke  # the smoke run's outputs are disposable; a real run refuses to overwrite its folder
./build/kvbench run
