// Chat formats of Mistral's instruct models: "[INST]" turns whose spacing and system-message placement differ
// from one tokenizer version to the next (mistral-common's v1, v3 and Tekken; the cookbook's "templates" table).
#include "harness/common/error.h"
#include "harness/common/unicode.h"
#include "harness/tokenizer/chat_formats.h"

namespace kvbench::chat {
namespace {

enum class SystemPlacement { kRefused, kFirstUser, kLastUser };

/// What tells one Mistral template from another.
struct InstStyle {
  const char* name;
  const char* open;              ///< before a user message, e.g. "[INST] "
  const char* close;             ///< after it, e.g. "[/INST]"
  SystemPlacement system;        ///< where a leading system message goes (+ "\n\n"); kRefused: it breaks alternation
  const char* assistant_prefix;  ///< before an assistant message
  bool trim_assistant;           ///< the template trims assistant messages
};

// bos, then the user/assistant turns (alternating after the optional system message), each user turn wrapped
// in open/close, each assistant turn followed by eos.
std::string render_inst(const Messages& messages, const InstStyle& style, const ChatSpecialTokens& special) {
  const std::size_t first = style.system == SystemPlacement::kRefused ? 0 : leading_system(messages);
  check_alternating(messages, first, style.name);
  std::string out = special.bos;
  for (std::size_t i = first; i < messages.size(); ++i) {
    const auto& m = messages[i];
    KV_CHECK(m.role == "user" || m.role == "assistant", "chat format '", style.name, "': only user and assistant "
             "roles are supported, with the exception of an initial optional system message");
    if (m.role == "user") {
      const bool gets_system = first == 1 && (style.system == SystemPlacement::kFirstUser ? i == first
                                                                                         : i + 1 == messages.size());
      out += style.open + (gets_system ? messages[0].content + "\n\n" : std::string()) + m.content + style.close;
    } else {
      out += style.assistant_prefix + (style.trim_assistant ? unicode::python_strip(m.content) : m.content) + special.eos;
    }
  }
  return out;
}

}  // namespace

// Mistral-7B-Instruct v0.1/v0.2 as first published: "[INST] {user} [/INST]{assistant}</s>", no system message.
std::string render_mistral(const Messages& messages, bool, const ChatSpecialTokens& special) {
  return render_inst(messages, {"mistral", "[INST] ", " [/INST]", SystemPlacement::kRefused, "", false}, special);
}

// The "v1" template Mistral later gave v0.1/v0.2 and Mixtral-8x7B: " [INST] {user} [/INST] {assistant}</s>", the
// system message joins the first user message.
std::string render_mistral_v1(const Messages& messages, bool, const ChatSpecialTokens& special) {
  return render_inst(messages, {"mistral-v1", " [INST] ", " [/INST]", SystemPlacement::kFirstUser, " ", false}, special);
}

// Tokenizer v3 (Mistral-7B-Instruct-v0.3, Mixtral-8x22B-Instruct, Codestral; no tools): "[INST] {user}[/INST]",
// " {assistant trimmed}</s>", the system message joins the last user message.
std::string render_mistral_v3(const Messages& messages, bool, const ChatSpecialTokens& special) {
  return render_inst(messages, {"mistral-v3", "[INST] ", "[/INST]", SystemPlacement::kLastUser, " ", true}, special);
}

// Tekken (Mistral-Nemo-Instruct-2407): "[INST]{user}[/INST]{assistant}</s>", the system message joins the last
// user message.
std::string render_mistral_nemo(const Messages& messages, bool, const ChatSpecialTokens& special) {
  return render_inst(messages, {"mistral-nemo", "[INST]", "[/INST]", SystemPlacement::kLastUser, "", false}, special);
}

}  // namespace kvbench::chat
