#pragma once
// SentencePiece `.model` tokenizers (Llama-2, Mistral v0.1/v0.2), through libsentencepiece loaded privately.

#include <memory>
#include <string>

#include "harness/tokenizer/tokenizer.h"
#include "harness/tokenizer/tokenizer_config.h"

namespace kvbench {

/// Loads the SentencePiece model at `path`. Special tokens (control and unknown pieces) are matched in the
/// text first, as HF's LlamaTokenizer does, and each stretch between them is encoded by SentencePiece (which
/// adds its dummy-prefix "▁"). add_special adds BOS (and EOS only when the config says add_eos_token).
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& path, const TokenizerConfig& config);

/// Path of libkvbench_spm.so that will be used (for error messages and --version).
std::string sentencepiece_bridge_path();

}  // namespace kvbench
