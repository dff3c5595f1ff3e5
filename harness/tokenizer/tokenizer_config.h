#pragma once
// What `tokenizer_config.json` beside a tokenizer says: special tokens and the chat template.

#include <optional>
#include <string>

namespace kvbench {

struct TokenizerConfig {
  std::optional<std::string> bos_token;  ///< e.g. "<s>"
  std::optional<std::string> eos_token;  ///< e.g. "</s>", "<|im_end|>"
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::string chat_template;    ///< raw Jinja source ("" when absent); used to recognise the chat format
  std::string tokenizer_class;  ///< e.g. "LlamaTokenizer"
};

/// Reads `<dir>/tokenizer_config.json`; a missing file gives an empty config, a malformed one an error. The
/// chat template comes from `<dir>/chat_template.jinja` when that exists, else from tokenizer_config.json, else
/// from `<dir>/chat_template.json` (where processors keep it).
TokenizerConfig read_tokenizer_config(const std::string& dir);

}  // namespace kvbench
