#!/usr/bin/env python3
"""Packs `kvbench synth --train-out` records (uint32 words) as uint16 words compressed with xz: .u16.xz files
are 1.7x smaller than gzip'd uint32, which matters because a device call carries at most 64 MiB.
Every word must fit 16 bits (vocabulary and prompt lengths under 65,536): checked, never truncated.
    python3 scripts/pack_records.py FILE.bin...   (writes FILE.u16.xz beside each and removes FILE.bin)"""
import array
import lzma
import os
import sys

for path in sys.argv[1:]:
    words = array.array("I")
    with open(path, "rb") as f:
        words.frombytes(f.read())
    if sys.byteorder != "little":
        words.byteswap()
    if words and max(words) > 0xFFFF:
        sys.exit(f"{path}: a word is {max(words)}, over 16 bits; keep this file as .bin.gz")
    packed = array.array("H", words)
    if sys.byteorder != "little":
        packed.byteswap()
    out = path[:-len(".bin")] + ".u16.xz" if path.endswith(".bin") else path + ".u16.xz"
    with open(out + ".tmp", "wb") as f:
        f.write(lzma.compress(packed.tobytes(), preset=6))
    os.replace(out + ".tmp", out)
    os.remove(path)
    print(f"{out}: {len(words)} words, {os.path.getsize(out) / 1e6:.1f} MB", file=sys.stderr)
