#include "harness/tokenizer/chat_template.h"

#include <algorithm>

#include "harness/common/error.h"
#include "harness/tokenizer/chat_formats.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench {

namespace chat {
void check_roles(const Messages& messages, const char* format) {
  for (const auto& m : messages)
    KV_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant", "chat format '", format,
             "': unsupported role '", m.role, "' (use system, user or assistant)");
}

void check_alternating(const Messages& messages, std::size_t first, const char* format) {
  for (std::size_t i = first; i < messages.size(); ++i)
    KV_CHECK((messages[i].role == "user") == ((i - first) % 2 == 0), "chat format '", format, "': ",
             first == 1 ? "after the optional system message, " : "",
             "conversation roles must alternate user/assistant/user/assistant/... (message ", i, " is '",
             messages[i].role, "')");
}

std::size_t leading_system(const Messages& messages) {
  return !messages.empty() && messages[0].role == "system" ? 1 : 0;
}
}  // namespace chat

namespace {

// Registration: one entry per format. `tokenizer_adds_specials` is true only for formats that are not an HF
// template (their prompt gets the tokenizer's BOS, as LongBench's pred.py tokenizes it).
const ChatFormat kFormats[] = {
    {"none", "no template: the prompt as is", chat::render_none, true, ""},
    {"llama2", "LongBench's Llama-2 chat: [INST]{prompt}[/INST]", chat::render_llama2, true, ""},
    {"mistral", "Mistral-7B-Instruct v0.1/v0.2 (first template): <s>[INST] {prompt} [/INST]", chat::render_mistral,
     false, ""},
    {"mistral-v1", "Mistral-7B-Instruct v0.1/v0.2, Mixtral-8x7B (2024 template): <s> [INST] {prompt} [/INST]",
     chat::render_mistral_v1, false, ""},
    {"mistral-v3", "Mistral-7B-Instruct-v0.3, Mixtral-8x22B (tokenizer v3): <s>[INST] {prompt}[/INST]",
     chat::render_mistral_v3, false, ""},
    {"mistral-nemo", "Mistral-Nemo (Tekken): <s>[INST]{prompt}[/INST]", chat::render_mistral_nemo, false, ""},
    {"llama3", "Llama-3 Instruct header blocks", chat::render_llama3, false, "<|eot_id|>"},
    {"llama3.1", "Llama-3.1 Instruct (system block with the cutoff date)", chat::render_llama31, false, "<|eot_id|>"},
    {"qwen2", "ChatML with Qwen2's default system message", chat::render_qwen2, false, "<|im_end|>"},
    {"qwen2.5", "ChatML with Qwen2.5's default system message", chat::render_qwen25, false, "<|im_end|>"},
    {"qwen3", "Qwen3 with thinking off (enable_thinking=False): ChatML, an empty think block after the assistant "
     "header", chat::render_qwen3, false, "<|im_end|>"},
    {"chatml", "plain ChatML", chat::render_chatml, false, "<|im_end|>"},
    {"gemma", "Gemma, Gemma 2: <bos><start_of_turn>user\\n{prompt}<end_of_turn>\\n<start_of_turn>model\\n",
     chat::render_gemma, false, "<end_of_turn>"},
    {"gemma3", "Gemma 3: as gemma, a system message opens the first user turn", chat::render_gemma3, false,
     "<end_of_turn>"},
    {"phi3", "Phi-3-mini: <|user|>\\n{prompt}<|end|>\\n<|assistant|>\\n", chat::render_phi3, false, "<|end|>"},
    {"phi3.5", "Phi-3.5-mini: as phi3, an empty system message left out", chat::render_phi35, false, "<|end|>"},
    {"phi4-mini", "Phi-4-mini: <|user|>{prompt}<|end|><|assistant|>", chat::render_phi4_mini, false, "<|end|>"},
};

bool contains(const std::string& text, const char* needle) { return text.find(needle) != std::string::npos; }

/// A template is recognised as `format` when it holds every `has` string and no `lacks` string: the lines that
/// make the format what it is (user turn, assistant turn, system handling), as the real templates write them
/// (tests/data/chat-templates), with "\n" escapes read as newlines. The first matching row wins; a template
/// matching none is not guessed.
struct Fingerprint {
  const char* format;
  std::vector<const char*> has;
  std::vector<const char*> lacks;
};
constexpr const char* kLlama3Turn =
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>'";
constexpr const char* kChatmlTurn = "'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'";
const Fingerprint kFingerprints[] = {
    // Llama 3.2/3.3 print today's date (strftime_now) where 3.1 prints 26 Jul 2024: not recognised.
    {"llama3.1", {"Cutting Knowledge Date: December 2023", "\"26 Jul 2024\"", kLlama3Turn}, {"strftime_now"}},
    // Both Llama-3-Instruct templates (the first one appends the assistant header even without a generation
    // prompt; kvbench always renders prompts with one).
    {"llama3", {kLlama3Turn, "bos_token + content"}, {"Cutting Knowledge Date"}},
    {"qwen3",
     {"'<|im_start|>' + message.role + '\n'", "last_query_index", "enable_thinking is defined and enable_thinking is false",
      "'<think>\n\n</think>\n\n'"},
     {}},
    {"qwen2.5", {"<|im_start|>", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."}, {"bos_token"}},
    {"qwen2", {"'<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'", kChatmlTurn}, {"bos_token"}},
    // Plain ChatML: no BOS, no default system message, no <|im_sep|> (Phi-4), no think prompt (reasoning models).
    {"chatml", {kChatmlTurn, "'<|im_start|>assistant\n'"},
     {"bos_token", "system_message", "You are", "<|im_sep|>", "<think>"}},
    {"gemma3",
     {"{{ bos_token }}", "'<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\")",
      "message['content'] | trim", "'<start_of_turn>model\n'"},
     {}},
    {"gemma",
     {"{{ bos_token }}", "'<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n'",
      "System role not supported"},
     {}},
    {"phi3.5", {"'<|user|>\n' + message['content'] + '<|end|>\n'", "message['role'] == 'system' and message['content']"},
     {}},
    {"phi3", {"'<|user|>\n' + message['content'] + '<|end|>\n'", "'<|system|>\n'", "add_generation_prompt"}, {}},
    {"phi4-mini", {"'<|' + message['role'] + '|>' + message['content'] + '<|end|>'", "'<|assistant|>'"}, {}},
    // Meta's Llama-2-chat template is recognised as LongBench's own wrapping of Llama-2 chat models (pred.py's
    // "[INST]{prompt}[/INST]"), not rendered as that template: the one exception.
    {"llama2",
     {"bos_token + '[INST] ' + content.strip() + ' [/INST]'", "'<<SYS>>\n' + system_message + '\n<</SYS>>\n\n'"},
     {"system_message = '", "system_message = \""}},  // community templates with a default system prompt
    {"mistral", {"'[INST] ' + message['content'] + ' [/INST]'", "message['content'] + eos_token}}"}, {}},
    {"mistral-v1",
     {"' [INST] ' + message['content'] + ' [/INST]'", "' ' + message['content'] + eos_token",
      "loop.first and system_message is defined"},
     {}},
    {"mistral-v3",
     {R"("[INST] " + message["content"] + "[/INST]")", R"(" " + message["content"]|trim + eos_token)",
      "loop.last and system_message is defined"},
     {}},
    {"mistral-nemo",
     {R"("[INST]" + message["content"] + "[/INST]")", R"(message["content"] + eos_token)",
      "loop.last and system_message is defined"},
     {}},
};

/// The format of a checkpoint whose tokenizer_config.json has no chat template, by its architecture.
/// Phi3ForCausalLM is absent: Phi-3 and Phi-4-mini share it and write turns differently.
const std::pair<const char*, const char*> kArchitectureFormats[] = {
    {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2.5"},        {"Qwen3ForCausalLM", "qwen3"},
    {"Qwen3MoeForCausalLM", "qwen3"},  {"GemmaForCausalLM", "gemma"},          {"Gemma2ForCausalLM", "gemma"},
    {"Gemma3ForCausalLM", "gemma3"},   {"Gemma3ForConditionalGeneration", "gemma3"},
};

}  // namespace

const ChatFormat& chat_format(const std::string& name) {
  for (const auto& f : kFormats)
    if (name == f.name) return f;
  std::string known;
  for (const auto& n : chat_format_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown chat format '", name, "' (known: ", known, ")");
}

std::vector<std::string> chat_format_names() {
  std::vector<std::string> names;
  for (const auto& f : kFormats) names.emplace_back(f.name);
  return names;
}

std::optional<std::string> detect_chat_format(const TokenizerConfig& config, const std::string& architecture) {
  if (!config.chat_template.empty()) {
    std::string t = config.chat_template;  // "\n" escapes in Jinja strings render as newlines: match either
    for (auto at = t.find("\\n"); at != std::string::npos; at = t.find("\\n", at + 1)) t.replace(at, 2, "\n");
    for (const auto& f : kFingerprints)
      if (std::all_of(f.has.begin(), f.has.end(), [&](const char* s) { return contains(t, s); }) &&
          std::none_of(f.lacks.begin(), f.lacks.end(), [&](const char* s) { return contains(t, s); }))
        return f.format;
    return std::nullopt;
  }
  for (const auto& [arch, format] : kArchitectureFormats)
    if (architecture == arch) return format;
  return std::nullopt;
}

std::string render_user_prompt(const ChatFormat& format, const std::string& prompt, const ChatSpecialTokens& special) {
  return format.render({{"user", prompt}}, /*add_generation_prompt=*/true, special);
}

ChatSpecialTokens chat_special_tokens(const Tokenizer& tokenizer) {
  ChatSpecialTokens special;
  if (tokenizer.bos_id()) special.bos = tokenizer.id_to_token(*tokenizer.bos_id());
  if (tokenizer.eos_id()) special.eos = tokenizer.id_to_token(*tokenizer.eos_id());
  return special;
}

std::vector<std::int32_t> encode_prompt(const Tokenizer& tokenizer, const std::string& prompt, const ChatFormat* format,
                                        bool add_special) {
  if (format == nullptr) return tokenizer.encode(prompt, add_special);
  return encode_rendered(tokenizer, render_user_prompt(*format, prompt, chat_special_tokens(tokenizer)), *format,
                         add_special);
}

std::vector<std::int32_t> encode_rendered(const Tokenizer& tokenizer, std::string text, const ChatFormat& format,
                                          bool add_special) {
  const ChatSpecialTokens special = chat_special_tokens(tokenizer);
  if (format.tokenizer_adds_specials) return tokenizer.encode(text, add_special);
  if (!add_special && !special.bos.empty() && text.rfind(special.bos, 0) == 0) text.erase(0, special.bos.size());
  return tokenizer.encode(text, /*add_special=*/false);
}

std::vector<std::int32_t> chat_stop_ids(const Tokenizer& tokenizer, const ChatFormat* format) {
  std::vector<std::int32_t> ids;
  if (tokenizer.eos_id()) ids.push_back(*tokenizer.eos_id());
  if (format != nullptr && *format->end_of_turn != '\0') {
    const auto id = tokenizer.token_to_id(format->end_of_turn);
    if (id && std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
  }
  return ids;
}

}  // namespace kvbench
