// Chat formats of Microsoft's Phi-3 / 3.5 / 4-mini instruct models: "<|role|>" tags, "<|end|>" after each message.
#include "harness/tokenizer/chat_formats.h"

namespace kvbench::chat {
namespace {

/// What tells the Phi templates apart.
struct PhiStyle {
  const char* name;
  const char* after_tag;   ///< "\n" (Phi-3, 3.5) or "" (Phi-4-mini), also after "<|end|>"
  bool skip_empty_system;  ///< Phi-3.5 drops an empty system message
};

// Each message as "<|role|>" + content + "<|end|>", then the assistant tag, or EOS without a generation prompt.
std::string render_phi(const Messages& messages, bool add_generation_prompt, const ChatSpecialTokens& special,
                       const PhiStyle& style) {
  check_roles(messages, style.name);
  std::string out;
  for (const auto& m : messages)
    if (!(style.skip_empty_system && m.role == "system" && m.content.empty()))
      out += "<|" + m.role + "|>" + style.after_tag + m.content + "<|end|>" + style.after_tag;
  return out + (add_generation_prompt ? "<|assistant|>" + std::string(style.after_tag) : special.eos);
}

}  // namespace

// Phi-3-mini-4k/128k-instruct.
std::string render_phi3(const Messages& m, bool gen, const ChatSpecialTokens& special) {
  return render_phi(m, gen, special, {"phi3", "\n", false});
}
// Phi-3.5-mini-instruct: as Phi-3, but an empty system message is left out.
std::string render_phi35(const Messages& m, bool gen, const ChatSpecialTokens& special) {
  return render_phi(m, gen, special, {"phi3.5", "\n", true});
}
// Phi-4-mini-instruct (no tools): no newlines around the tags.
std::string render_phi4_mini(const Messages& m, bool gen, const ChatSpecialTokens& special) {
  return render_phi(m, gen, special, {"phi4-mini", "", false});
}

}  // namespace kvbench::chat
