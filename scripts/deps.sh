#!/usr/bin/env bash
# Installs kvbench's build dependencies with apt (Debian 12, Ubuntu 22.04 and newer); skips what is installed.
#   bash scripts/deps.sh [--test] [--sanitize] [--no-libtorch] [--deps-dir DIR] [--no-install]
#     --test:         also what the tests use (GoogleTest; Slurm and munge for the Slurm test)
#     --sanitize:     clang-14 and its sanitizer and libFuzzer runtimes (scripts/sanitize.sh, tests/fuzz/run.sh)
#     --no-libtorch:  another libtorch is used (a pip/conda torch or an unpacked zip): not the distribution's
#     --deps-dir DIR: .deb files downloaded on another machine (docs/offline-build.md), for a machine without
#                     network: unpacked into .deps/root, which scripts/build.sh points CMake at
#     --no-install:   never call apt-get; only report what is missing (exit 1 if something needed is)
set -euo pipefail
cd "$(dirname "$0")/.."
required=(cmake g++ libsentencepiece-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libpcre2-dev
          libutf8proc-dev
          libminizip-dev zlib1g-dev)  # minizip reads LongBench's data.zip (`kvbench data`), linked statically
optional=(ninja-build            # faster builds
          python3-jieba          # jieba's dictionary, read by the Chinese metrics (metrics/jieba.cpp)
          librsvg2-bin)          # rsvg-convert: `kvbench plot --out X.png`
with_libtorch=1 deps_dir="" install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --test) required+=(libgtest-dev)
            optional+=(slurm-wlm munge     # tests/slurm_test.sh starts a one-node cluster of its own
                       libxml2-utils) ;;   # xmllint: `kvbench check --format junit` against the JUnit schema
    --sanitize) required+=(clang-14 libclang-rt-14-dev) ;;
    --no-libtorch) with_libtorch=0 ;;
    --deps-dir) deps_dir=${2:?--deps-dir needs a folder}; shift ;;
    --no-install) install=0 ;;
    *) echo "deps.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [ $with_libtorch = 1 ]; then
  # OpenBLAS: Debian's CPU libtorch runs its matmuls ~12x faster with it than with the reference BLAS.
  required+=(libtorch-dev); optional+=(libopenblas0-pthread)
fi

if ! command -v dpkg-query >/dev/null; then
  cat >&2 <<MSG
deps.sh installs with apt (Debian, Ubuntu). On this system install these yourself, then run scripts/build.sh:
  a C++17 compiler (g++ >= 9), cmake >= 3.18, and the development files of sentencepiece, nlohmann-json (>= 3.9),
  CLI11 (>= 2.1), spdlog (>= 1.9) with fmt, pcre2 (8-bit), utf8proc, minizip and zlib; libtorch as a pip/conda torch.
  Fedora/RHEL: dnf install gcc-c++ cmake sentencepiece-devel json-devel cli11-devel spdlog-devel fmt-devel pcre2-devel utf8proc-devel minizip-compat-devel zlib-devel
  conda-forge: conda install cmake sentencepiece nlohmann_json cli11 spdlog fmt pcre2 utf8proc minizip zlib
MSG
  exit 1
fi

# Packages given as .deb files (a machine without network): unpacked, not installed.
provided=()
if [ -n "$deps_dir" ]; then
  [ -d "$deps_dir" ] || { echo "deps.sh: --deps-dir $deps_dir is not a folder" >&2; exit 2; }
  mkdir -p .deps/root
  shopt -s nullglob
  debs=("$deps_dir"/*.deb)
  [ ${#debs[@]} -gt 0 ] || { echo "deps.sh: no .deb files in $deps_dir" >&2; exit 2; }
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" .deps/root
    provided+=("$(dpkg-deb -f "$deb" Package)")
  done
  echo "unpacked ${#debs[@]} packages from $deps_dir into .deps/root"
fi

is_there() {
  local p
  for p in "${provided[@]}"; do [ "$p" = "$1" ] && return 0; done
  # Tools count when they are on PATH, however installed (a pip cmake, a module's compiler).
  case "$1" in
    cmake) command -v cmake >/dev/null && return 0 ;;
    g++) command -v g++ >/dev/null || command -v c++ >/dev/null && return 0 ;;
    ninja-build) command -v ninja >/dev/null && return 0 ;;
    clang-14) command -v clang++-14 >/dev/null && return 0 ;;
  esac
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=() missing_optional=()
for p in "${required[@]}"; do is_there "$p" || missing+=("$p"); done
for p in "${optional[@]}"; do is_there "$p" || missing_optional+=("$p"); done
[ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
can_install=$install
[ "$(id -u)" -ne 0 ] && [ -z "$sudo" ] && can_install=0
if [ $can_install = 1 ]; then
  echo "installing: ${missing[*]} ${missing_optional[*]}"
  if $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
       "${missing[@]}" "${missing_optional[@]}"; then
    exit 0
  fi
  # No network, or an optional package the release lacks: try the required ones alone.
  if [ ${#missing[@]} -gt 0 ] && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
       "${missing[@]}" 2>/dev/null; then
    missing=()
  fi
fi
if [ ${#missing_optional[@]} -gt 0 ]; then
  echo "note: optional packages not installed: ${missing_optional[*]} (faster builds, Chinese metrics, PNG plots)"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: missing build dependencies: ${missing[*]}" >&2
  echo "  install them: sudo apt-get install ${missing[*]}" >&2
  echo "  without network: download them elsewhere (apt-get download ...) and pass --deps-dir DIR (docs/offline-build.md)" >&2
  exit 1
fi
