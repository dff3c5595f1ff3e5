// The normalizers and pre-tokenizers of an HF tokenizer.json (hf_components.h), the patterns they match,
// and the helpers they share with hf_decoders.cpp (hf_component_parts.h).
#include "harness/tokenizer/hf_components.h"

#include <cstdint>

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <optional>
#include <cstdlib>

#include "harness/common/error.h"
#include "harness/common/unicode.h"
#include "harness/tokenizer/hf_component_parts.h"

namespace kvbench::hf {
namespace detail {
std::string type_of(const json& j, const std::string& file, const std::string& where) {
  KV_CHECK(j.is_object(), file, ": ", where, " must be an object or null");
  auto it = j.find("type");
  KV_CHECK(it != j.end() && it->is_string(), file, ": ", where, " has no 'type'");
  return it->get<std::string>();
}

bool get_bool(const json& j, const char* key, bool fallback, const std::string& file, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  KV_CHECK(it->is_boolean(), file, ": ", where, ".", key, " must be a boolean");
  return it->get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& file, const std::string& where) {
  auto it = j.find(key);
  KV_CHECK(it != j.end() && it->is_string(), file, ": ", where, ".", key, " must be a string");
  return it->get<std::string>();
}

std::int64_t get_int(const json& j, const char* key, std::int64_t fallback, const std::string& file, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  KV_CHECK(it->is_number_integer(), file, ": ", where, ".", key, " must be an integer");
  return it->get<std::int64_t>();
}

const json& get_array(const json& j, const char* key, const std::string& file, const std::string& where) {
  auto it = j.find(key);
  KV_CHECK(it != j.end() && it->is_array(), file, ": ", where, ".", key, " must be an array");
  return *it;
}

char32_t get_char(const json& j, const char* key, const std::string& file, const std::string& where) {
  const std::string s = get_string(j, key, file, where);
  KV_CHECK(unicode::is_valid_utf8(s), file, ": ", where, ".", key, " is not valid UTF-8");
  const auto cps = unicode::decode_utf8(s);
  KV_CHECK(cps.size() == 1, file, ": ", where, ".", key, " must be a single character, got '", s, "'");
  return cps[0];
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t next_cp(std::string_view s, std::size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int n = unicode::utf8_length(b);
  char32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < n && i + static_cast<std::size_t>(k) < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
  i += static_cast<std::size_t>(n);
  return cp;
}

const ByteLevelTables& byte_tables() {
  static const ByteLevelTables tables;
  return tables;
}

void replace_all(std::string& text, const Pattern& pattern, const std::string& content) {
  thread_local Matches matches;
  matches.clear();
  pattern.find_all(text, matches);
  if (matches.empty()) return;
  std::string out;
  out.reserve(text.size() + matches.size() * content.size());
  std::size_t prev = 0;
  for (const auto& [s, e] : matches) {
    out.append(text, prev, s - prev);
    out += content;
    prev = e;
  }
  out.append(text, prev, std::string::npos);
  text.swap(out);
}

PrependScheme parse_prepend_scheme(const json& j, const std::string& file, const std::string& where) {
  auto it = j.find("prepend_scheme");
  if (it != j.end() && !it->is_null()) {
    KV_CHECK(it->is_string(), file, ": ", where, ".prepend_scheme must be a string");
    const std::string s = it->get<std::string>();
    if (s == "always") return PrependScheme::Always;
    if (s == "first") return PrependScheme::First;
    if (s == "never") return PrependScheme::Never;
    fail(file, ": ", where, ".prepend_scheme '", s, "' is not supported");
  }
  // Files written before prepend_scheme existed say add_prefix_space.
  return get_bool(j, "add_prefix_space", true, file, where) ? PrependScheme::Always : PrependScheme::Never;
}

}  // namespace detail

using namespace detail;

namespace {

// ---- split behaviors (HF SplitDelimiterBehavior) ----------------------------------------------------------

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& j, const std::string& file, const std::string& where) {
  const std::string b = get_string(j, "behavior", file, where);
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail(file, ": ", where, ".behavior '", b, "' is not supported");
}

struct Span {
  std::size_t begin, end;
  bool match;
};

// Splits `piece` at `matches` as HF's NormalizedString::split does, appending the non-empty parts to `out`.
void split_piece(const Piece& piece, const Matches& matches, Behavior behavior, bool invert, std::vector<Piece>& out) {
  const std::string& text = piece.text;
  thread_local std::vector<Span> spans, kept;
  spans.clear();
  kept.clear();
  if (text.empty()) return;  // HF drops empty pieces
  std::size_t prev = 0;
  for (const auto& [s, e] : matches) {
    if (prev != s) spans.push_back(Span{prev, s, false});
    spans.push_back(Span{s, e, true});
    prev = e;
  }
  if (prev != text.size()) spans.push_back(Span{prev, text.size(), false});
  if (invert)
    for (auto& s : spans) s.match = !s.match;

  switch (behavior) {
    case Behavior::Isolated:
      kept = spans;
      break;
    case Behavior::Removed:
      for (const auto& s : spans)
        if (!s.match) kept.push_back(s);
      break;
    case Behavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.match && !previous_match && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back(s);
        }
        previous_match = s.match;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !previous_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back(*it);
        }
        previous_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
    case Behavior::Contiguous: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.match == previous_match && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back(s);
        }
        previous_match = s.match;
      }
      break;
    }
  }
  for (const auto& s : kept) {
    if (s.end <= s.begin) continue;
    out.push_back(Piece{text.substr(s.begin, s.end - s.begin), piece.at_origin && s.begin == 0});
  }
}

// ---- normalizers ----------------------------------------------------------------------------------------

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void normalize(std::string& text) const override {
    for (const auto& p : parts_) p->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class Utf8procNormalizer : public Normalizer {
 public:
  Utf8procNormalizer(int options, bool is_nfc) : options_(options), nfc_(is_nfc) {}
  void normalize(std::string& text) const override {
    if (is_ascii(text)) return;
    if (nfc_) {
      text = unicode::nfc(text);
      return;
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &out,
                                            static_cast<utf8proc_option_t>(options_));
    KV_CHECK(n >= 0, "Unicode normalization failed: ", utf8proc_errmsg(n));
    text.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
    std::free(out);
  }

 private:
  int options_;
  bool nfc_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    if (is_ascii(text)) {
      for (char& c : text)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      return;
    }
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
      const char32_t cp = next_cp(text, i);
      if (cp == 0x130) {  // the one unconditional multi-character lowercase mapping (Rust's to_lowercase)
        out += "i\xCC\x87";
      } else {
        unicode::append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
      }
    }
    text.swap(out);
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    std::size_t begin = 0, end = text.size();
    if (left_) {
      for (std::size_t i = 0; i < text.size();) {
        if (!is_white_space(next_cp(text, i))) break;
        begin = i;
      }
    }
    if (right_) {
      std::size_t last_non_space_end = begin;
      for (std::size_t i = begin; i < text.size();) {
        if (!is_white_space(next_cp(text, i))) last_non_space_end = i;
      }
      end = last_non_space_end;
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ByteLevelNormalizer : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size() * 2);
    for (char c : text) out += byte_tables().to_char[static_cast<unsigned char>(c)];
    text.swap(out);
  }
};


class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { replace_all(text, pattern_, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

// ---- pre-tokenizers -------------------------------------------------------------------------------------

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void apply(std::vector<Piece>& pieces, std::vector<Piece>& scratch) const override {
    for (const auto& p : parts_) p->apply(pieces, scratch);
  }
  bool byte_level() const override {
    for (const auto& p : parts_)
      if (p->byte_level()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void apply(std::vector<Piece>& pieces, std::vector<Piece>& scratch) const override {
    thread_local Matches matches;
    scratch.clear();
    for (const Piece& piece : pieces) {
      matches.clear();
      pattern_.find_all(piece.text, matches);
      split_piece(piece, matches, behavior_, invert_, scratch);
    }
    pieces.swap(scratch);
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, const std::string& where)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern, where);
  }
  void apply(std::vector<Piece>& pieces, std::vector<Piece>& scratch) const override {
    const auto& table = byte_tables().to_char;
    thread_local Matches matches;
    thread_local std::vector<Piece> parts;
    scratch.clear();
    for (Piece& piece : pieces) {
      if (add_prefix_space_ && !piece.text.empty() && piece.text[0] != ' ') piece.text.insert(0, " ");
      parts.clear();
      if (regex_) {
        matches.clear();
        regex_->find_all(piece.text, matches);
        split_piece(piece, matches, Behavior::Isolated, false, parts);
      } else {
        parts.push_back(std::move(piece));
      }
      for (Piece& part : parts) {
        Piece mapped;
        mapped.at_origin = part.at_origin;
        mapped.text.reserve(part.text.size() * 2);
        for (char c : part.text) mapped.text += table[static_cast<unsigned char>(c)];
        scratch.push_back(std::move(mapped));
      }
    }
    pieces.swap(scratch);
  }
  bool byte_level() const override { return true; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};


class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : scheme_(scheme), split_(split) {
    unicode::append_utf8(replacement_, replacement);
  }
  void apply(std::vector<Piece>& pieces, std::vector<Piece>& scratch) const override {
    thread_local Matches matches;
    scratch.clear();
    for (Piece& piece : pieces) {
      std::string& t = piece.text;
      if (t.find(' ') != std::string::npos) {
        std::string out;
        out.reserve(t.size() + 8);
        for (char c : t) {
          if (c == ' ') {
            out += replacement_;
          } else {
            out += c;
          }
        }
        t.swap(out);
      }
      const bool starts = t.compare(0, replacement_.size(), replacement_) == 0;
      if (!t.empty() && !starts &&
          (scheme_ == PrependScheme::Always || (scheme_ == PrependScheme::First && piece.at_origin)))
        t.insert(0, replacement_);
      if (!split_) {
        if (!t.empty()) scratch.push_back(std::move(piece));
        continue;
      }
      matches.clear();
      for (std::size_t pos = t.find(replacement_); pos != std::string::npos; pos = t.find(replacement_, pos + replacement_.size()))
        matches.emplace_back(pos, pos + replacement_.size());
      split_piece(piece, matches, Behavior::MergedWithNext, false, scratch);
    }
    pieces.swap(scratch);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

}  // namespace


// ---- Pattern ----------------------------------------------------------------------------------------------

Pattern::Pattern(const json& spec, const std::string& where) {
  KV_CHECK(spec.is_object() && spec.size() == 1, where, ": a pattern must be {\"String\": ...} or {\"Regex\": ...}");
  const std::string kind = spec.begin().key();
  const auto entry = spec.begin();  // a named iterator: binding value() of a temporary one looks dangling to GCC 13
  const json& value = entry.value();
  KV_CHECK(value.is_string(), where, ": pattern ", kind, " must be a string");
  if (kind == "String") {
    literal_ = value.get<std::string>();
    KV_CHECK(!literal_.empty(), where, ": an empty String pattern is not supported");
  } else if (kind == "Regex") {
    regex_ = std::make_unique<Regex>(value.get<std::string>(), where);
  } else {
    fail(where, ": pattern kind '", kind, "' is not supported (String or Regex)");
  }
}

void Pattern::find_all(std::string_view text, Matches& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  for (std::size_t pos = text.find(literal_); pos != std::string_view::npos; pos = text.find(literal_, pos + literal_.size()))
    out.emplace_back(pos, pos + literal_.size());
}

std::string Pattern::describe() const { return regex_ ? "Regex " + regex_->pattern() : "String " + literal_; }

// ---- factories --------------------------------------------------------------------------------------------

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& file, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, file, where);
  const std::string ctx = file + ": " + where;
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    const json& list = get_array(j, "normalizers", file, where);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto p = make_normalizer(list[i], file, where + ".normalizers[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "NFC") return std::make_unique<Utf8procNormalizer>(0, true);
  if (type == "NFD") return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, false);
  if (type == "NFKC")
    return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, false);
  if (type == "NFKD")
    return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, false);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(get_bool(j, "strip_left", true, file, where), get_bool(j, "strip_right", true, file, where));
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(get_string(j, "prepend", file, where));
  if (type == "Replace") {
    auto it = j.find("pattern");
    KV_CHECK(it != j.end(), ctx, " (Replace) has no 'pattern'");
    return std::make_unique<ReplaceNormalizer>(Pattern(*it, ctx + ".pattern"), get_string(j, "content", file, where));
  }
  fail(file, ": normalizer type '", type, "' (at ", where,
       ") is not supported; supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace, ByteLevel, Sequence");
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& file, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, file, where);
  const std::string ctx = file + ": " + where;
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    const json& list = get_array(j, "pretokenizers", file, where);
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], file, where + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "Split") {
    auto it = j.find("pattern");
    KV_CHECK(it != j.end(), ctx, " (Split) has no 'pattern'");
    return std::make_unique<SplitPreTokenizer>(Pattern(*it, ctx + ".pattern"), parse_behavior(j, file, where),
                                               get_bool(j, "invert", false, file, where));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(get_bool(j, "add_prefix_space", true, file, where),
                                                   get_bool(j, "use_regex", true, file, where), ctx);
  if (type == "Metaspace")
    return std::make_unique<MetaspacePreTokenizer>(get_char(j, "replacement", file, where), parse_prepend_scheme(j, file, where),
                                                   get_bool(j, "split", true, file, where));
  if (type == "Digits") {
    const bool individual = get_bool(j, "individual_digits", false, file, where);
    return std::make_unique<SplitPreTokenizer>(Pattern(json{{"Regex", "\\p{N}"}}, ctx),
                                               individual ? Behavior::Isolated : Behavior::Contiguous, false);
  }
  if (type == "WhitespaceSplit")
    return std::make_unique<SplitPreTokenizer>(Pattern(json{{"Regex", "\\s"}}, ctx), Behavior::Removed, false);
  if (type == "CharDelimiterSplit") {
    std::string delimiter;
    unicode::append_utf8(delimiter, get_char(j, "delimiter", file, where));
    return std::make_unique<SplitPreTokenizer>(Pattern(delimiter), Behavior::Removed, false);
  }
  fail(file, ": pre_tokenizer type '", type, "' (at ", where,
       ") is not supported; supported: Split, ByteLevel, Metaspace, Digits, WhitespaceSplit, CharDelimiterSplit, Sequence");
}

const std::string& byte_level_char(unsigned char byte) { return byte_tables().to_char[byte]; }

int byte_level_byte(char32_t cp) {
  const auto& from = byte_tables().from_cp;
  return cp < from.size() ? from[cp] : -1;
}

}  // namespace kvbench::hf

