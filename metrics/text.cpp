#include "metrics/text.h"

#include <cstdint>

#include <utf8proc.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "harness/common/unicode.h"

namespace kvbench::metrics::py {
namespace {

utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool in_ranges(char32_t c, const char32_t (*ranges)[2], std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (c >= ranges[i][0] && c <= ranges[i][1]) return true;
  }
  return false;
}

// Other_Lowercase / Other_Uppercase characters without a case mapping of their own (PropList.txt, Unicode
// 14, the database of CPython 3.11). They count as Cased for the Final_Sigma rule.
constexpr char32_t kOtherCased[][2] = {
    {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x02B0, 0x02B8}, {0x02C0, 0x02C1}, {0x02E0, 0x02E4},
    {0x0345, 0x0345}, {0x037A, 0x037A}, {0x10FC, 0x10FC}, {0x1D2C, 0x1D6A}, {0x1D78, 0x1D78},
    {0x1D9B, 0x1DBF}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C}, {0x2160, 0x217F},
    {0x24B6, 0x24E9}, {0x2C7C, 0x2C7D}, {0xA69C, 0xA69D}, {0xA770, 0xA770}, {0xA7F2, 0xA7F4},
    {0xA7F8, 0xA7F9}, {0xAB5C, 0xAB5F}, {0xAB69, 0xAB69}, {0x10780, 0x10780}, {0x10783, 0x10785},
    {0x10787, 0x107B0}, {0x107B2, 0x107BA}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

// Word_Break MidLetter, MidNumLet and Single_Quote: Case_Ignorable besides the general categories.
constexpr char32_t kWordBreakIgnorable[][2] = {
    {0x0027, 0x0027}, {0x002E, 0x002E}, {0x003A, 0x003A}, {0x00B7, 0x00B7}, {0x0387, 0x0387},
    {0x055F, 0x055F}, {0x05F4, 0x05F4}, {0x2018, 0x2019}, {0x2024, 0x2024}, {0x2027, 0x2027},
    {0xFE13, 0xFE13}, {0xFE52, 0xFE52}, {0xFE55, 0xFE55}, {0xFF07, 0xFF07}, {0xFF0E, 0xFF0E},
    {0xFF1A, 0xFF1A},
};

}  // namespace

Str decode(std::string_view utf8) {
  std::vector<char32_t> cps;
  if (unicode::is_valid_utf8(utf8)) {
    cps = unicode::decode_utf8(utf8);
  } else {
    cps = unicode::decode_utf8(unicode::sanitize_utf8(utf8));
  }
  return Str(cps.begin(), cps.end());
}

std::string encode(StrView text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) unicode::append_utf8(out, c);
  return out;
}

bool isspace(char32_t c) { return unicode::is_python_space(c); }

std::vector<Str> split(StrView text) {
  std::vector<Str> out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    while (i < n && isspace(text[i])) ++i;
    if (i >= n) break;
    std::size_t j = i;
    while (j < n && !isspace(text[j])) ++j;
    out.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<Str> split_on(StrView text, char32_t sep) {
  std::vector<Str> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == sep) {
      out.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.emplace_back(text.substr(start));
  return out;
}

Str fold_whitespace(StrView text) {
  Str out;
  for (const Str& piece : split(text)) {
    if (!out.empty()) out.push_back(U' ');
    out += piece;
  }
  return out;
}

bool is_cased(char32_t c) {
  const auto cat = category(c);
  if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) return true;
  return in_ranges(c, kOtherCased, sizeof(kOtherCased) / sizeof(kOtherCased[0]));
}

bool is_case_ignorable(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return in_ranges(c, kWordBreakIgnorable, sizeof(kWordBreakIgnorable) / sizeof(kWordBreakIgnorable[0]));
  }
}

Str lower(StrView text) {
  Str out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c < 0x80) {
      out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
    } else if (c == 0x0130) {
      // SpecialCasing.txt, unconditional: LATIN CAPITAL LETTER I WITH DOT ABOVE → i + COMBINING DOT ABOVE.
      out.push_back(U'i');
      out.push_back(0x0307);
    } else if (c == 0x03A3) {
      // CPython's handle_capital_sigma: final form when preceded by a cased letter (case-ignorables
      // skipped) and not followed by one.
      std::size_t j = i;
      bool final_sigma = false;
      while (j > 0) {
        --j;
        if (!is_case_ignorable(text[j])) {
          final_sigma = is_cased(text[j]);
          break;
        }
      }
      if (final_sigma) {
        std::size_t k = i + 1;
        while (k < text.size() && is_case_ignorable(text[k])) ++k;
        final_sigma = k == text.size() || !is_cased(text[k]);
      }
      out.push_back(final_sigma ? 0x03C2 : 0x03C3);
    } else {
      out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

bool is_re_word(char32_t c) {
  if (c < 0x80) {
    return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || (c >= U'0' && c <= U'9') || c == U'_';
  }
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

bool is_re_digit(char32_t c) {
  if (c < 0x80) return c >= U'0' && c <= U'9';
  return category(c) == UTF8PROC_CATEGORY_ND;
}

bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

std::vector<Str> find_digit_runs(StrView text) {
  std::vector<Str> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_re_digit(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && is_re_digit(text[j])) ++j;
    out.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string first_line(std::string_view s) {
  std::size_t start = 0;
  while (start < s.size() && s[start] == '\n') ++start;
  const std::size_t end = s.find('\n', start);
  return std::string(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

double round(double x, int ndigits) {
  if (!std::isfinite(x)) return x;
  // %.*f prints the exact binary value rounded half-to-even in the default rounding mode (glibc), which is
  // what CPython's round() computes with its correctly rounded dtoa; strtod brings it back.
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", ndigits, x);
  return std::strtod(buf, nullptr);
}

double numpy_round(double x, int ndigits) {
  double f = 1.0;
  for (int i = 0; i < ndigits; ++i) f *= 10.0;
  return std::nearbyint(x * f) / f;
}

namespace {

// numpy/core/src/umath/loops_utils.h.src, DOUBLE_pairwise_sum.
double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

}  // namespace

double numpy_mean(const std::vector<double>& values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  // np.add.reduce starts from the identity 0.0 and adds the pairwise sum of the whole (contiguous) array.
  const double sum = 0.0 + pairwise_sum(values.data(), values.size());
  return sum / static_cast<double>(values.size());
}

std::string float_repr(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits (std::to_chars picks the closest of the shortest, as CPython's dtoa mode 0).
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const std::size_t e = sci.find('e');
  std::string digits;
  for (std::size_t i = 0; i < e; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  const int exponent = std::atoi(sci.c_str() + e + 1);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int decpt = exponent + 1;  // position of the decimal point relative to the digits
  const int ndigits = static_cast<int>(digits.size());
  std::string out;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out = "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
    } else if (decpt >= ndigits) {
      out = digits + std::string(static_cast<std::size_t>(decpt - ndigits), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<std::size_t>(decpt)) + "." + digits.substr(static_cast<std::size_t>(decpt));
    }
  } else {
    out = digits.substr(0, 1);
    if (ndigits > 1) out += "." + digits.substr(1);
    const int exp10 = decpt - 1;
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    out += ebuf;
  }
  return sign + out;
}

}  // namespace kvbench::metrics::py
