#pragma once
// UTF-8 and Unicode helpers shared by the tokenizers and the metrics (no libtorch).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvbench::unicode {

/// Replaces every invalid UTF-8 sequence by U+FFFD, one per maximal subpart (what Python's
/// bytes.decode("utf-8", "replace") and Rust's String::from_utf8_lossy do).
std::string sanitize_utf8(std::string_view bytes);
/// True when `bytes` is valid UTF-8.
bool is_valid_utf8(std::string_view bytes);
/// Decodes valid UTF-8 into code points (call sanitize_utf8 first on untrusted input).
std::vector<char32_t> decode_utf8(std::string_view text);
/// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(const std::vector<char32_t>& cps);
/// Byte length of the UTF-8 sequence starting with `lead` (1 for invalid lead bytes).
int utf8_length(unsigned char lead);
/// Python's str.isspace() for one code point (Unicode White_Space as Python defines it: bidi classes WS, B, S
/// and category Zs), used wherever we reproduce Python's split()/strip().
bool is_python_space(char32_t cp);
/// Python's str.strip() on valid UTF-8.
std::string python_strip(std::string_view text);
/// Unicode NFC normalization of valid UTF-8.
std::string nfc(std::string_view text);

}  // namespace kvbench::unicode
