#pragma once
// The tokenizer interface: text <-> token ids with the model's special tokens, exactly as HF does it.
// Implementations: SentencePiece `.model` files (sentencepiece_tokenizer.cpp, through libsentencepiece
// loaded privately, see spm_bridge.h) and HF `tokenizer.json` files (hf_tokenizer.cpp, our own BPE).
// No libtorch here.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvbench {

using TokenId = std::int32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Encodes UTF-8 `text` (invalid UTF-8 is replaced by U+FFFD per maximal subpart, as Python's
  /// errors="replace" does). Special-token text inside `text` (e.g. "<|eot_id|>") becomes that token, as HF
  /// does by default. `add_special`: add what HF's add_special_tokens=True adds (e.g. BOS).
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special) const = 0;
  /// Decodes ids to UTF-8 text (invalid byte sequences become U+FFFD); `skip_special` drops special tokens.
  virtual std::string decode(const std::vector<TokenId>& ids, bool skip_special) const = 0;

  /// Number of ids (the largest id + 1, added tokens included).
  virtual std::int64_t vocab_size() const = 0;
  /// The id of a token string (vocabulary or added token), if any.
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  /// The token string of `id` ("" when out of range).
  virtual std::string id_to_token(TokenId id) const = 0;
  /// Whether `id` is a special (control) token.
  virtual bool is_special(TokenId id) const = 0;

  /// Beginning- and end-of-sequence tokens from the tokenizer's config, when it has them.
  std::optional<TokenId> bos_id() const { return bos_id_; }
  std::optional<TokenId> eos_id() const { return eos_id_; }
  /// Short description for logs, e.g. "tokenizer.json (BPE, byte-level, 128256 ids)".
  virtual std::string describe() const = 0;

 protected:
  std::optional<TokenId> bos_id_, eos_id_;
};

/// Loads a tokenizer from a file (`tokenizer.json` or a SentencePiece `.model`) or from a checkpoint
/// directory (its `tokenizer.json` if present, else `tokenizer.model`). `tokenizer_config.json` beside it,
/// if any, supplies BOS/EOS. Unknown constructs in a tokenizer.json are a kvbench::Error naming them.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace kvbench
