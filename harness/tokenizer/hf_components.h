#pragma once
// The pipeline pieces of an HF tokenizer.json, each reproducing what HF tokenizers 0.23 does:
// normalizers (string -> string), pre-tokenizers (pieces -> pieces), decoders (tokens -> tokens) and
// post-processors (ids -> ids). Built from the JSON by the make_* functions, which throw kvbench::Error naming
// the file and the JSON path of any construct we do not implement.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/tokenizer/hf_regex.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench::hf {

/// A pre-token: its text and whether it starts at offset 0 of the original input (Metaspace's
/// prepend_scheme "first" prefixes only such a piece).
struct Piece {
  std::string text;
  bool at_origin = false;
};

/// A `{"String": ...}` or `{"Regex": ...}` pattern (a literal matches as the escaped regex would).
class Pattern {
 public:
  Pattern(const nlohmann::json& spec, const std::string& where);
  explicit Pattern(std::string literal) : literal_(std::move(literal)) {}
  void find_all(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& out) const;
  std::string describe() const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  /// Replaces `pieces` by their split/transformed pieces (`scratch` is a reusable buffer).
  virtual void apply(std::vector<Piece>& pieces, std::vector<Piece>& scratch) const = 0;
  virtual bool byte_level() const { return false; }
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  virtual bool byte_level() const { return false; }
};

/// The add_special_tokens=True part of a post-processor, for a single sequence.
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<TokenId>& ids) const = 0;
};

/// `file` names the tokenizer.json in errors; `where` is the JSON path ("normalizer", "decoder.decoders[1]").
/// A null JSON value gives nullptr.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& file, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& file, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& file, const std::string& where);
std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& file, const std::string& where);

/// GPT-2's byte -> printable code point table (ByteLevel), as UTF-8 strings, and its inverse.
const std::string& byte_level_char(unsigned char byte);
/// The byte of a ByteLevel code point, or -1 when `cp` is not in the alphabet.
int byte_level_byte(char32_t cp);

}  // namespace kvbench::hf
