#!/usr/bin/env bash
# On a machine WITH network and the same distribution release as the machine without one: downloads the .deb
# files of kvbench's build dependencies (and the libraries they need at run time) into DIR. Carry DIR over and run
# `bash scripts/setup.sh --deps-dir DIR` there (docs/offline-build.md).
#   bash scripts/download-deps.sh DIR [PACKAGE ...]    (default: every build dependency scripts/deps.sh knows)
set -euo pipefail
dir=${1:?usage: download-deps.sh DIR [PACKAGE ...]}
shift
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(libsentencepiece-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
                                       libpcre2-dev libutf8proc-dev libminizip-dev zlib1g-dev)
mkdir -p "$dir"
cd "$dir"
# Each package and the libraries it depends on directly (the C/C++ runtime itself is on every machine).
all=()
for p in "${packages[@]}"; do
  all+=("$p")
  while read -r dep; do
    case "$dep" in libc6|libc6-dev|libstdc++6|libgcc-s1|libstdc++-*-dev|"<"*) ;; lib*) all+=("$dep") ;; esac
  done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$p" |
           awk '/Depends:/ {print $2}')
done
mapfile -t all < <(printf '%s\n' "${all[@]}" | sort -u)
apt-get download "${all[@]}"
echo "downloaded into $dir: ${all[*]}"
