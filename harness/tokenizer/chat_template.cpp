#include "harness/tokenizer/chat_template.h"

#include <algorithm>

#include "harness/common/error.h"
#include "harness/tokenizer/tokenizer.h"
#include "harness/common/unicode.h"

namespace kvbench {
namespace {

using Messages = std::vector<ChatMessage>;

void check_roles(const Messages& messages, const char* format) {
  for (const auto& m : messages)
    KV_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant", "chat format '", format,
             "': unsupported role '", m.role, "' (use system, user or assistant)");
}

// "none": the contents one after the other.
std::string render_none(const Messages& messages, bool, const ChatSpecialTokens&) {
  std::string out;
  for (const auto& m : messages) out += m.content;
  return out;
}

// LongBench's Llama-2 chat format (pred.py build_chat): "[INST]{prompt}[/INST]", BOS added by the tokenizer.
// A system message goes into the first user turn as Llama-2's <<SYS>> block; an assistant turn is followed
// by EOS and BOS, as Llama-2's own template separates turns.
std::string render_llama2(const Messages& messages, bool, const ChatSpecialTokens& special) {
  check_roles(messages, "llama2");
  std::string out, system;
  std::size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n";
    first = 1;
  }
  for (std::size_t i = first; i < messages.size(); ++i) {
    const auto& m = messages[i];
    KV_CHECK(m.role != "system", "chat format 'llama2': a system message may only come first");
    if (m.role == "user") {
      out += "[INST]" + (i == first ? system : "") + m.content + "[/INST]";
    } else {
      out += m.content + special.eos + special.bos;
    }
  }
  return out;
}

// Mistral-7B-Instruct v0.1/v0.2: bos + "[INST] {user} [/INST]" + "{assistant}" + eos, alternating, no system.
std::string render_mistral(const Messages& messages, bool, const ChatSpecialTokens& special) {
  std::string out = special.bos;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    KV_CHECK((m.role == "user") == (i % 2 == 0), "chat format 'mistral': conversation roles must alternate "
             "user/assistant/user/assistant/...");
    if (m.role == "user") {
      out += "[INST] " + m.content + " [/INST]";
    } else if (m.role == "assistant") {
      out += m.content + special.eos;
    } else {
      fail("chat format 'mistral': only user and assistant roles are supported");
    }
  }
  return out;
}

// Mistral-Nemo-Instruct-2407 (also v0.3/Tekken style): bos + "[INST]{user}[/INST]" + "{assistant}" + eos; an
// initial system message is prepended (+ "\n\n") to the last user message.
std::string render_mistral_nemo(const Messages& messages, bool, const ChatSpecialTokens& special) {
  check_roles(messages, "mistral-nemo");
  std::optional<std::string> system;
  std::size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  for (std::size_t i = first; i < messages.size(); ++i)
    KV_CHECK((messages[i].role == "user") == ((i - first) % 2 == 0), "chat format 'mistral-nemo': after the optional "
             "system message, conversation roles must alternate user/assistant/user/assistant/...");
  std::string out = special.bos;
  for (std::size_t i = first; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.role == "user") {
      const bool last = i + 1 == messages.size();
      out += "[INST]" + (last && system ? *system + "\n\n" : std::string()) + m.content + "[/INST]";
    } else {
      out += m.content + special.eos;
    }
  }
  return out;
}

std::string llama3_turn(const std::string& role, const std::string& content) {
  return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + unicode::python_strip(content) + "<|eot_id|>";
}

// Llama-3 Instruct: bos, then each message as a header block with its content trimmed.
std::string render_llama3(const Messages& messages, bool add_generation_prompt, const ChatSpecialTokens& special) {
  check_roles(messages, "llama3");
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i)
    out += (i == 0 ? special.bos : "") + llama3_turn(messages[i].role, messages[i].content);
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Llama-3.1 Instruct (no tools): bos, a system block that always carries the knowledge-cutoff and date lines
// (date_string defaults to "26 Jul 2024") followed by the trimmed system message, then the turns.
std::string render_llama31(const Messages& messages, bool add_generation_prompt, const ChatSpecialTokens& special) {
  check_roles(messages, "llama3.1");
  std::string system;
  std::size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system = unicode::python_strip(messages[0].content);
    first = 1;
  }
  std::string out = special.bos + "<|start_header_id|>system<|end_header_id|>\n\n" +
                    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + system + "<|eot_id|>";
  for (std::size_t i = first; i < messages.size(); ++i) out += llama3_turn(messages[i].role, messages[i].content);
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string chatml(const Messages& messages, bool add_generation_prompt, const char* default_system) {
  check_roles(messages, "chatml");
  std::string out;
  if (default_system != nullptr && (messages.empty() || messages[0].role != "system"))
    out += std::string("<|im_start|>system\n") + default_system + "<|im_end|>\n";
  for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// ChatML as Qwen2-Instruct renders it: a default system message when none is given.
std::string render_qwen2(const Messages& m, bool gen, const ChatSpecialTokens&) {
  return chatml(m, gen, "You are a helpful assistant.");
}
// Qwen2.5-Instruct (no tools): the same with Qwen2.5's default system message.
std::string render_qwen25(const Messages& m, bool gen, const ChatSpecialTokens&) {
  return chatml(m, gen, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
}
// Plain ChatML, no default system message.
std::string render_chatml(const Messages& m, bool gen, const ChatSpecialTokens&) { return chatml(m, gen, nullptr); }

// Registration: one entry per format.
const ChatFormat kFormats[] = {
    {"none", "no template: the prompt as is", render_none, false, ""},
    {"llama2", "LongBench's Llama-2 chat: [INST]{prompt}[/INST]", render_llama2, false, ""},
    {"mistral", "Mistral-7B-Instruct v0.1/v0.2: <s>[INST] {prompt} [/INST]", render_mistral, true, ""},
    {"mistral-nemo", "Mistral-Nemo / v0.3: <s>[INST]{prompt}[/INST]", render_mistral_nemo, true, ""},
    {"llama3", "Llama-3 Instruct header blocks", render_llama3, true, "<|eot_id|>"},
    {"llama3.1", "Llama-3.1 Instruct (system block with the cutoff date)", render_llama31, true, "<|eot_id|>"},
    {"qwen2", "ChatML with Qwen2's default system message", render_qwen2, false, "<|im_end|>"},
    {"qwen2.5", "ChatML with Qwen2.5's default system message", render_qwen25, false, "<|im_end|>"},
    {"chatml", "plain ChatML", render_chatml, false, "<|im_end|>"},
};

bool contains(const std::string& text, const char* needle) { return text.find(needle) != std::string::npos; }

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
  const std::string& t = config.chat_template;
  if (!t.empty()) {
    if (contains(t, "Cutting Knowledge Date")) return "llama3.1";
    if (contains(t, "<|start_header_id|>")) return "llama3";
    if (contains(t, "You are Qwen, created by Alibaba Cloud")) return "qwen2.5";
    if (contains(t, "<|im_start|>") && contains(t, "You are a helpful assistant.")) return "qwen2";
    if (contains(t, "<|im_start|>")) return "chatml";
    if (contains(t, "<<SYS>>")) return "llama2";
    if (contains(t, "'[INST] '") || contains(t, "\"[INST] \"")) return "mistral";
    if (contains(t, "[INST]")) return "mistral-nemo";
    return std::nullopt;
  }
  if (architecture == "MistralForCausalLM") return "mistral";
  if (architecture == "Qwen2ForCausalLM") return "qwen2.5";
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
  if (!format.renders_bos) return tokenizer.encode(text, add_special);
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
