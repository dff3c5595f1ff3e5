#pragma once
// Reads llama.cpp's tokenizer test vectors (../shared/data/tokenizer-tests/ggml-vocab-*.gguf.inp/.out):
// inputs separated by "\n__ggml_vocab_test__\n" (the file ends with a separator), one line of expected ids
// (encoded without special tokens) per input.

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_support.h"

namespace kvbench::test {

struct TokenizerCase {
  std::string text;
  std::vector<std::int32_t> ids;
};

inline std::vector<TokenizerCase> read_tokenizer_cases(const std::string& stem) {
  const std::string inp = read_file(stem + ".inp"), out = read_file(stem + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  std::size_t start = 0;
  for (std::size_t pos; (pos = inp.find(sep, start)) != std::string::npos; start = pos + sep.size())
    texts.push_back(inp.substr(start, pos - start));
  std::vector<TokenizerCase> cases;
  std::istringstream lines(out);
  std::string line;
  for (const auto& text : texts) {
    if (!std::getline(lines, line)) break;
    TokenizerCase c{text, {}};
    std::istringstream ids(line);
    for (std::int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace kvbench::test
