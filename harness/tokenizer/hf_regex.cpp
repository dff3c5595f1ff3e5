#include "harness/tokenizer/hf_regex.h"

#include <cstdint>

#include <pcre2.h>

#include <optional>

#include "harness/common/error.h"
#include "harness/tokenizer/hf_unicode_extra.h"

namespace kvbench::hf {
namespace {

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

// Per-thread match context with a JIT stack large enough for long runs of backtracking (e.g. `\s+(?!\S)`
// over thousands of spaces); created on first use in each thread.
struct ThreadMatchState {
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ThreadMatchState() {
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (context != nullptr && stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    if (stack != nullptr) pcre2_jit_stack_free(stack);
    if (context != nullptr) pcre2_match_context_free(context);
  }
};

pcre2_match_context* thread_match_context() {
  thread_local ThreadMatchState state;
  return state.context;
}

// One match data block per thread, shared by all patterns.
struct ThreadMatchData {
  pcre2_match_data* data = nullptr;
  ~ThreadMatchData() {
    if (data != nullptr) pcre2_match_data_free(data);
  }
};

pcre2_match_data* thread_match_data() {
  thread_local ThreadMatchData holder;
  // Our patterns come from tokenizer.json files and have few groups; 64 pairs cover any we accept (checked
  // at compile time against the pattern's capture count).
  if (holder.data == nullptr) holder.data = pcre2_match_data_create(64, nullptr);
  KV_CHECK(holder.data != nullptr, "out of memory for regex match data");
  return holder.data;
}

std::size_t next_char_end(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return pos + 1;
  std::size_t i = pos + 1;
  while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  return i;
}

const char* category_extra(const std::string& name) {
  for (const auto& e : kCategoryExtras)
    if (name == e.category) return e.ranges;
  return "";
}

// Whether PCRE2 knows `\p{sc:name}` (a script, matched by its Script property only, as Oniguruma does;
// PCRE2's plain \p{Han} uses Script_Extensions).
bool is_script_name(const std::string& name) {
  if (name.size() < 3) return false;
  const std::string probe = "\\p{sc:" + name + "}";
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(probe.data()), probe.size(), PCRE2_UTF | PCRE2_UCP,
                                   &error, &offset, nullptr);
  if (code == nullptr) return false;
  pcre2_code_free(code);
  return true;
}

}  // namespace

std::string Regex::translate(const std::string& p) {
  // Oniguruma (Unicode) vs PCRE2 10.42 with PCRE2_UCP:
  //   \s  Onig: \t\n\v\f\r, U+0085, Zs, Zl, Zp      PCRE2: no U+0085, but U+180E
  //   \w  Onig: Alphabetic, M, Nd, Pc, ²³¹¼½¾       PCRE2 10.42: L, N, '_'
  //   \d  Onig: Nd                                   PCRE2: Nd
  //   \h  Onig: a hexadecimal digit                  PCRE2: horizontal white space
  //   \p{X}  Unicode 16 vs Unicode 14 tables: the newer code points are added (hf_unicode_extra.h)
  //   \p{Han} Onig: Script                           PCRE2: Script_Extensions (so \p{sc:Han} is used)
  static const std::string kSpace =
      "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
  static const std::string kWord = std::string("\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}") +
                                   category_extra("L") + category_extra("M") + category_extra("Nd");
  static const std::string kDigit = std::string("\\p{Nd}") + category_extra("Nd");
  static const std::string kHex = "0-9a-fA-F";
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false;
  // Appends a set of class items: as is inside a class, else wrapped in [...] or [^...].
  const auto emit_set = [&](const std::string& items, bool negated, const std::string& original) {
    if (in_class) {
      out += negated ? original : items;  // a negated set inside a class keeps PCRE2's meaning
    } else {
      out += negated ? "[^" : "[";
      out += items;
      out += ']';
    }
  };
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      const std::string original = p.substr(i, 2);
      if (e == 'p' || e == 'P') {
        std::string name;
        std::size_t end = i + 2;
        if (end < p.size() && p[end] == '{') {
          const std::size_t close = p.find('}', end);
          if (close == std::string::npos) {  // malformed: let PCRE2 report it
            out += original;
            ++i;
            continue;
          }
          name = p.substr(end + 1, close - end - 1);
          end = close + 1;
        } else if (end < p.size()) {
          name = p.substr(end, 1);
          end += 1;
        }
        const std::string written = p.substr(i, end - i);
        bool negated = e == 'P';
        if (!name.empty() && name[0] == '^') {
          negated = !negated;
          name.erase(0, 1);
        }
        const std::string extra = category_extra(name);
        std::string item;
        if (!extra.empty()) {
          item = "\\p{" + name + "}" + extra;
          emit_set(item, negated, written);
        } else if (is_script_name(name)) {
          // Han gained CJK extensions H and I (and U+2B739) after Unicode 14.
          const char* han_extra = "\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}";
          const bool han = name == "Han" || name == "Hani";
          const std::string items = "\\p{sc:" + name + "}" + (han ? han_extra : "");
          emit_set(items, negated, written);
        } else {
          out += written;
        }
        i = end - 1;
        continue;
      }
      const std::string* set = nullptr;
      bool negated = false;
      switch (e) {
        case 's': set = &kSpace; break;
        case 'S': set = &kSpace; negated = true; break;
        case 'w': set = &kWord; break;
        case 'W': set = &kWord; negated = true; break;
        case 'd': set = &kDigit; break;
        case 'D': set = &kDigit; negated = true; break;
        case 'h': set = &kHex; break;
        case 'H': set = &kHex; negated = true; break;
        default: break;
      }
      if (set == nullptr) {
        out += original;  // everything else means the same in both engines
      } else {
        emit_set(*set, negated, original);
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX class [:name:]
      const std::size_t end = p.find(":]", i + 2);
      if (end != std::string::npos) {
        out.append(p, i, end + 2 - i);
        i = end + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

Regex::Regex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
  const std::string translated = translate(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr)
    fail(where, ": cannot compile regex '", pattern, "': ", pcre2_message(error), " at offset ", offset);
  std::uint32_t captures = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
  if (captures >= 63) {
    pcre2_code_free(code);
    fail(where, ": regex '", pattern, "' has too many capture groups (", captures, ")");
  }
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(as_code(code_));
}

void Regex::find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
  pcre2_match_data* md = thread_match_data();
  pcre2_match_context* mc = thread_match_context();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const std::size_t n = text.size();
  std::size_t pos = 0;
  std::optional<std::size_t> last_match_end;
  while (pos <= n) {
    const int rc = jit_ ? pcre2_jit_match(as_code(code_), subject, n, pos, 0, md, mc)
                        : pcre2_match(as_code(code_), subject, n, pos, PCRE2_NO_UTF_CHECK, md, mc);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("regex '", pattern_, "': matching failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const std::size_t s = ov[0], e = ov[1];
    if (s == e && last_match_end && *last_match_end == e) {
      // Onig's (and Rust regex's) find_iter: no empty match right after the previous match.
      pos = next_char_end(text, pos);
      continue;
    }
    out.emplace_back(s, e);
    pos = e;
    last_match_end = e;
  }
}

}  // namespace kvbench::hf
