#pragma once
// Python 3 `str` semantics that LongBench's official scorer relies on, on code-point strings. The official
// metrics run on Python str (code points, Unicode-aware lower/split/regex classes), so every length, slice
// and character class here is per code point, never per byte.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kvbench::metrics::py {

using Str = std::u32string;
using StrView = std::u32string_view;

/// UTF-8 → code points (invalid bytes become U+FFFD first, as Python's decode(errors="replace")).
Str decode(std::string_view utf8);
std::string encode(StrView text);

/// str.isspace() for one code point (what str.split() and re's \s use).
bool isspace(char32_t c);
/// str.split() without arguments: runs of Unicode whitespace separate, no empty pieces.
std::vector<Str> split(StrView text);
/// str.split(sep) with a one-character separator: every occurrence separates, empty pieces kept.
std::vector<Str> split_on(StrView text, char32_t sep);
/// " ".join(text.split()).
Str fold_whitespace(StrView text);

/// str.lower(): full Unicode lowercase, including U+0130 → "i̇" and the Final_Sigma rule for U+03A3.
Str lower(StrView text);
/// Unicode properties as CPython 3.11 uses them for the above.
bool is_cased(char32_t c);
bool is_case_ignorable(char32_t c);

/// `\w` of Python's re on str patterns: str.isalnum() or '_'.
bool is_re_word(char32_t c);
/// `\d` of Python's re on str patterns: Unicode decimal digits (category Nd).
bool is_re_digit(char32_t c);
/// A character of string.punctuation (the 32 ASCII punctuation characters).
bool is_ascii_punctuation(char32_t c);

/// re.findall(r"\d+", text): maximal runs of decimal digits.
std::vector<Str> find_digit_runs(StrView text);

/// s.lstrip('\n').split('\n')[0] (bytes and code points agree: '\n' is ASCII).
std::string first_line(std::string_view s);

/// Python's round(x, ndigits) on a float: the double nearest to the decimal rounding of x's exact binary
/// value, ties to even (glibc's printf("%.*f") rounds the exact value the same way).
double round(double x, int ndigits);
/// NumPy's round(np.float64(x), ndigits): rint(x * 10**ndigits) / 10**ndigits (not correctly rounded).
double numpy_round(double x, int ndigits);
/// np.mean of float64 values: NumPy's pairwise summation (8-way unrolled blocks of at most 128) / n.
/// NaN for an empty list, as NumPy.
double numpy_mean(const std::vector<double>& values);
/// repr(float) / json.dumps of a float: shortest round-trip digits, "7.0" for integral values, NaN as "NaN".
std::string float_repr(double x);

}  // namespace kvbench::metrics::py
