#pragma once
// Internal to hf_components.cpp and hf_decoders.cpp: the JSON accessors that name the file and JSON path of
// any problem, UTF-8 stepping, the GPT-2 byte alphabet, and the helpers both halves of the pipeline share.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/tokenizer/hf_components.h"

namespace kvbench::hf::detail {

using json = nlohmann::json;
using Matches = std::vector<std::pair<std::size_t, std::size_t>>;

/// j["type"] of a component object (throws naming `file` and `where` when j is no object or has no type).
std::string type_of(const json& j, const std::string& file, const std::string& where);
bool get_bool(const json& j, const char* key, bool fallback, const std::string& file, const std::string& where);
std::string get_string(const json& j, const char* key, const std::string& file, const std::string& where);
std::int64_t get_int(const json& j, const char* key, std::int64_t fallback, const std::string& file, const std::string& where);
const json& get_array(const json& j, const char* key, const std::string& file, const std::string& where);
/// A JSON string holding exactly one character (Metaspace replacement, Strip content).
char32_t get_char(const json& j, const char* key, const std::string& file, const std::string& where);

bool is_ascii(std::string_view s);
/// Unicode White_Space (Rust's char::is_whitespace).
bool is_white_space(char32_t c);
/// Decodes the code point at s[i] (valid UTF-8) and advances i.
char32_t next_cp(std::string_view s, std::size_t& i);

/// GPT-2's byte-to-unicode alphabet and its inverse.
struct ByteLevelTables {
  std::array<std::string, 256> to_char;
  std::array<std::int16_t, 512> from_cp;  // code points of the alphabet are all below 0x144
  ByteLevelTables() {
    from_cp.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      unicode::append_utf8(to_char[static_cast<std::size_t>(b)], cp);
      from_cp[cp] = static_cast<std::int16_t>(b);
    }
  }
};
const ByteLevelTables& byte_tables();

/// Replaces every match of `pattern` in `text` by `content`.
void replace_all(std::string& text, const Pattern& pattern, const std::string& content);

enum class PrependScheme { Always, First, Never };
/// Metaspace's prepend_scheme (or the older add_prefix_space).
PrependScheme parse_prepend_scheme(const json& j, const std::string& file, const std::string& where);

}  // namespace kvbench::hf::detail
