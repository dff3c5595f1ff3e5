// Chat formats of Google's Gemma instruct models: "<start_of_turn>user\n...<end_of_turn>\n", the assistant
// role written "model", contents trimmed.
#include "harness/common/error.h"
#include "harness/common/unicode.h"
#include "harness/tokenizer/chat_formats.h"

namespace kvbench::chat {
namespace {

// bos, then messages[first..] alternating user/model; `prefix` goes before the first turn's content.
std::string gemma_turns(const Messages& messages, std::size_t first, const std::string& prefix,
                        bool add_generation_prompt, const ChatSpecialTokens& special, const char* format) {
  check_roles(messages, format);
  check_alternating(messages, first, format);
  std::string out = special.bos;
  for (std::size_t i = first; i < messages.size(); ++i)
    out += "<start_of_turn>" + std::string(messages[i].role == "assistant" ? "model" : messages[i].role) + "\n" +
           (i == first ? prefix : "") + unicode::python_strip(messages[i].content) + "<end_of_turn>\n";
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace

// Gemma and Gemma 2 (-it): no system role.
std::string render_gemma(const Messages& messages, bool add_generation_prompt, const ChatSpecialTokens& special) {
  KV_CHECK(leading_system(messages) == 0, "chat format 'gemma': the system role is not supported (Gemma 2's "
           "template refuses it; Gemma 3's, chat format 'gemma3', puts it into the first user turn)");
  return gemma_turns(messages, 0, "", add_generation_prompt, special, "gemma");
}

// Gemma 3 (-it): a leading system message, untrimmed, plus "\n\n" opens the first user turn.
std::string render_gemma3(const Messages& messages, bool add_generation_prompt, const ChatSpecialTokens& special) {
  const std::size_t first = leading_system(messages);
  return gemma_turns(messages, first, first == 1 ? messages[0].content + "\n\n" : "", add_generation_prompt, special,
                     "gemma3");
}

}  // namespace kvbench::chat
