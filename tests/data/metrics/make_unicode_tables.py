#!/usr/bin/env python3
"""Writes unicode_tables.json: the Python 3 str / re character classes the LongBench metrics depend on, as this
interpreter's unicodedata has them, for every code point it knows (not Cn, not a surrogate). test_metrics.cpp checks
metrics/text.cpp against it. Recorded with Debian 12's /usr/bin/python3 (3.11.2, Unicode 14.0.0):

  /usr/bin/python3 tests/data/metrics/make_unicode_tables.py
"""
import json
import os
import platform
import re
import unicodedata

word, digit = re.compile(r"\w"), re.compile(r"\d")


def ranges(pred):
    out, start = [], None
    for c in range(0x110001):
        ok = c <= 0x10FFFF and not (0xD800 <= c <= 0xDFFF) and unicodedata.category(chr(c)) != "Cn" and pred(chr(c))
        if ok and start is None:
            start = c
        elif not ok and start is not None:
            out.append([start, c - 1])
            start = None
    return out


tables = {
    "python": platform.python_version(),
    "unicode": unicodedata.unidata_version,
    "assigned": ranges(lambda ch: True),
    "isspace": ranges(lambda ch: ch.isspace()),
    "re_word": ranges(lambda ch: bool(word.match(ch))),
    "re_digit": ranges(lambda ch: bool(digit.match(ch))),
    # Final_Sigma probes. X + "Σ" lowers to "ς" iff X is Cased and not Case_Ignorable (ignorables are skipped
    # on the way back); "A" + X + "Σ" iff X is Cased or Case_Ignorable.
    "sigma_final_after_x": ranges(lambda ch: (ch + "\u03a3").lower()[-1] == "\u03c2"),
    "sigma_final_after_a_x": ranges(lambda ch: ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"),
    "lower": [[c, [ord(x) for x in chr(c).lower()]] for c in range(0x110000)
              if not (0xD800 <= c <= 0xDFFF) and unicodedata.category(chr(c)) != "Cn" and chr(c).lower() != chr(c)],
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "unicode_tables.json"), "w") as f:
    json.dump(tables, f, separators=(",", ":"))
    f.write("\n")
