#!/usr/bin/env bash
# README's first command: dependencies, build, then the main job on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
# The quickstart's outputs are disposable (a real run refuses to overwrite its folder): a second setup reruns it.
rm -rf results/quickstart
./build/kvbench run
