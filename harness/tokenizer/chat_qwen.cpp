// ChatML formats: plain ChatML and the Qwen families' templates.
#include <algorithm>

#include "harness/tokenizer/chat_formats.h"

namespace kvbench::chat {
namespace {

std::string chatml(const Messages& messages, bool add_generation_prompt, const char* default_system) {
  check_roles(messages, "chatml");
  std::string out;
  if (default_system != nullptr && (messages.empty() || messages[0].role != "system"))
    out += std::string("<|im_start|>system\n") + default_system + "<|im_end|>\n";
  for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
// Python's str.lstrip('\n') / rstrip('\n').
std::string lstrip_newlines(const std::string& s) { return s.substr(std::min(s.find_first_not_of('\n'), s.size())); }
std::string rstrip_newlines(const std::string& s) {
  const auto last = s.find_last_not_of('\n');
  return last == std::string::npos ? std::string() : s.substr(0, last + 1);
}

}  // namespace

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

// Qwen3 (no tools) as its template renders with enable_thinking=False: ChatML without a default system message;
// an assistant message after the last user query has its "<think>...</think>" part split off and re-rendered
// (kept when it is the last message or has reasoning), earlier ones keep only the answer; the generation
// prompt carries an empty think block, which is how the template switches thinking off.
std::string render_qwen3(const Messages& messages, bool add_generation_prompt, const ChatSpecialTokens&) {
  check_roles(messages, "qwen3");
  // The last user message that is not a wrapped tool response is the last query.
  std::size_t last_query = messages.empty() ? 0 : messages.size() - 1;
  for (std::size_t i = messages.size(); i-- > 0;) {
    const std::string& c = messages[i].content;
    if (messages[i].role == "user" && !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
      last_query = i;
      break;
    }
  }
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.role != "assistant") {  // a leading system message and every user or later system message
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      continue;
    }
    std::string content = m.content, reasoning;
    if (const auto close = content.find("</think>"); close != std::string::npos) {
      const std::string before = rstrip_newlines(content.substr(0, close));
      const auto open = before.rfind("<think>");
      reasoning = lstrip_newlines(open == std::string::npos ? before : before.substr(open + 7));
      content = lstrip_newlines(content.substr(content.rfind("</think>") + 8));
    }
    out += "<|im_start|>assistant\n";
    if (i > last_query && (i + 1 == messages.size() || !reasoning.empty()))
      out += "<think>\n" + lstrip_newlines(rstrip_newlines(reasoning)) + "\n</think>\n\n" + lstrip_newlines(content);
    else
      out += content;
    out += "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n<think>\n\n</think>\n\n";
  return out;
}

}  // namespace kvbench::chat
