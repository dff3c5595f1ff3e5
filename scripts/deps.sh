#!/usr/bin/env bash
# Installs kvbench's build dependencies from Debian 12's apt (skipped when they are already there).
#   bash scripts/deps.sh [--test] [--sanitize]
#     --test: also what the tests use (Slurm and munge for the Slurm test)
#     --sanitize: clang-14 and its sanitizer and libFuzzer runtimes (scripts/sanitize.sh, tests/fuzz/run.sh)
set -euo pipefail
packages=(cmake ninja-build g++ libtorch-dev libsentencepiece-dev nlohmann-json3-dev libcli11-dev
          libspdlog-dev libfmt-dev libgtest-dev libpcre2-dev libutf8proc-dev
          libminizip-dev zlib1g-dev  # minizip reads LongBench's data.zip (`kvbench data`), linked statically
          libopenblas0-pthread   # OpenBLAS: libtorch's CPU matmuls are ~12x faster than with the reference BLAS
          python3-jieba          # jieba's dictionary, read by the Chinese metrics (metrics/jieba.cpp)
          librsvg2-bin)          # rsvg-convert: `kvbench plot --out X.png`
for option in "$@"; do
  case "$option" in
    --test) packages+=(slurm-wlm munge               # tests/slurm_test.sh starts a one-node cluster of its own
                       libxml2-utils) ;;             # xmllint: `kvbench check --format junit` against the JUnit schema
    --sanitize) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "deps.sh: unknown option '$option'" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
