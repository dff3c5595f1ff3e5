#pragma once
// HF `tokenizer.json` files, our own implementation (see hf_tokenizer.cpp for what is supported).

#include <memory>
#include <string>

#include "harness/tokenizer/tokenizer.h"
#include "harness/tokenizer/tokenizer_config.h"

namespace kvbench {

/// Loads `tokenizer.json` at `json_path`; `config` (from tokenizer_config.json) supplies BOS/EOS.
/// Any normalizer, pre-tokenizer, model, post-processor or decoder type we do not implement is a
/// kvbench::Error naming it and the file.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& json_path, const TokenizerConfig& config);

}  // namespace kvbench
