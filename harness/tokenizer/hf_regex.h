#pragma once
// Regexes of HF tokenizer.json files (Split pre-tokenizer, Replace normalizer/decoder), run with PCRE2 (UTF,
// UCP, JIT) but with the semantics of the Oniguruma engine that HF tokenizers uses: the few escapes whose
// meaning differs between the two (\s \S \h \H \w \W) are rewritten before compiling, and find_all()
// enumerates matches exactly as HF's onig find_iter does (an empty match right after the previous match is
// skipped).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvbench::hf {

class Regex {
 public:
  /// Compiles `pattern` (Oniguruma syntax as HF writes it); `where` names the file and the construct for errors.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  /// Appends the [begin, end) byte ranges of all matches in `text` (valid UTF-8) to `out`, left to right.
  void find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

  /// The PCRE2 pattern used for an Oniguruma pattern (exposed for tests).
  static std::string translate(const std::string& onig_pattern);

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

}  // namespace kvbench::hf
