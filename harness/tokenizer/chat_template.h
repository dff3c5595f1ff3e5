#pragma once
// Chat formats, written per family in C++ (no Jinja engine). Each renders a conversation exactly as the
// family's HF chat template does (apply_chat_template(tokenize=False)), for conversations of system / user /
// assistant messages without tools. A format is a renderer in chat_<family>.cpp (chat_formats.h) and one entry
// in chat_template.cpp's table, plus a fingerprint there when it can be recognised from a template.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/tokenizer/tokenizer_config.h"

namespace kvbench {

struct ChatMessage {
  std::string role;  ///< "system", "user" or "assistant"
  std::string content;
};

/// The special-token strings a template may print (HF passes bos_token / eos_token to the template).
struct ChatSpecialTokens {
  std::string bos;
  std::string eos;
};

/// A chat format: how a conversation becomes the text a model was trained on.
struct ChatFormat {
  const char* name;         ///< e.g. "llama3.1"
  const char* description;  ///< one line for --help
  /// Renders `messages`; add_generation_prompt appends the assistant header where the format has one.
  std::string (*render)(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                        const ChatSpecialTokens& special);
  /// False for HF templates: the rendering holds every special token the model expects (BOS where the
  /// template prints it), so it is encoded without adding any, as apply_chat_template(tokenize=True) does.
  /// True for LongBench's own wrapping ("llama2") and "none", whose text gets the tokenizer's BOS.
  bool tokenizer_adds_specials;
  /// An end-of-turn token to stop generation at besides EOS (e.g. "<|eot_id|>"), or "".
  const char* end_of_turn;
};

/// The format called `name`; throws kvbench::Error listing the known names.
const ChatFormat& chat_format(const std::string& name);
std::vector<std::string> chat_format_names();

/// Recognises the format from a tokenizer_config.json chat template, falling back on the architecture
/// (e.g. "MistralForCausalLM") when the config has none. nullopt when neither says.
std::optional<std::string> detect_chat_format(const TokenizerConfig& config, const std::string& architecture);

/// Renders one user turn (the LongBench case) with the generation prompt.
std::string render_user_prompt(const ChatFormat& format, const std::string& prompt, const ChatSpecialTokens& special);

class Tokenizer;
/// The BOS/EOS strings of `tokenizer`, for templates that print them.
ChatSpecialTokens chat_special_tokens(const Tokenizer& tokenizer);
/// Token ids of `prompt` as a model sees it: wrapped as one user turn of `format` (none when null) and
/// encoded. An HF template's rendering is encoded without adding specials (no double BOS), as
/// apply_chat_template(tokenize=True) does; `add_special` false adds no special token at all (and drops the
/// BOS a template prints).
std::vector<std::int32_t> encode_prompt(const Tokenizer& tokenizer, const std::string& prompt, const ChatFormat* format,
                                        bool add_special);
/// The encoding half of encode_prompt: ids of text already rendered by `format` (or a prefix of it).
std::vector<std::int32_t> encode_rendered(const Tokenizer& tokenizer, std::string text, const ChatFormat& format,
                                          bool add_special);
/// The ids generation should stop at: the tokenizer's EOS and the format's end-of-turn token, when they exist.
std::vector<std::int32_t> chat_stop_ids(const Tokenizer& tokenizer, const ChatFormat* format);

}  // namespace kvbench
