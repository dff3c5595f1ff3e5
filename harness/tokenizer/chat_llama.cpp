// Chat formats of the Llama family (and "none").
#include "harness/common/error.h"
#include "harness/common/unicode.h"
#include "harness/tokenizer/chat_formats.h"

namespace kvbench::chat {
namespace {
std::string llama3_turn(const std::string& role, const std::string& content) {
  return "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + unicode::python_strip(content) + "<|eot_id|>";
}
}  // namespace

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
  const std::size_t first = leading_system(messages);
  if (first == 1) system = "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n";
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
  const std::size_t first = leading_system(messages);
  const std::string system = first == 1 ? unicode::python_strip(messages[0].content) : "";
  std::string out = special.bos + "<|start_header_id|>system<|end_header_id|>\n\n" +
                    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + system + "<|eot_id|>";
  for (std::size_t i = first; i < messages.size(); ++i) out += llama3_turn(messages[i].role, messages[i].content);
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

}  // namespace kvbench::chat
