#!/usr/bin/env bash
# Run HERE (Debian 12, with network), before a GPU build: unpacks Debian's pcre2, utf8proc and minizip (static)
# development files into .deps/root. The GPU machine has no network and may lack their -dev packages; name .deps in the
# device call's `carry` and scripts/build-gpu.sh points CMake at it when the system has no pcre2.h/utf8proc.h.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs .deps/root
cd .deps/debs
apt-get download libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2 libminizip-dev zlib1g-dev zlib1g >/dev/null
for deb in *.deb; do dpkg-deb -x "$deb" ../root; done
echo "unpacked into .deps/root: $(ls ../root/usr/include | tr '\n' ' ')"
