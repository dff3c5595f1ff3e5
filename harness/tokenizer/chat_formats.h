#pragma once
// The renderers of the chat formats, one file per family (chat_<family>.cpp), registered in chat_template.cpp.
// Each reproduces its family's HF Jinja template for conversations of system / user / assistant messages
// without tools; where the template raises an exception, the renderer throws kvbench::Error.
// Internal to harness/tokenizer.

#include <cstddef>
#include <string>
#include <vector>

#include "harness/tokenizer/chat_template.h"

namespace kvbench::chat {

using Messages = std::vector<ChatMessage>;

/// Throws unless every role is system, user or assistant.
void check_roles(const Messages& messages, const char* format);
/// Throws unless messages[first..] alternate user/assistant/user/..., as the templates' alternation check does.
void check_alternating(const Messages& messages, std::size_t first, const char* format);
/// 1 when the conversation starts with a system message (the templates' loop_messages = messages[1:]), else 0.
std::size_t leading_system(const Messages& messages);

// chat_llama.cpp
std::string render_none(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_llama2(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_llama3(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_llama31(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
// chat_mistral.cpp
std::string render_mistral(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_mistral_v1(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_mistral_v3(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_mistral_nemo(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
// chat_qwen.cpp
std::string render_chatml(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_qwen2(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_qwen25(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_qwen3(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
// chat_gemma.cpp
std::string render_gemma(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_gemma3(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
// chat_phi.cpp
std::string render_phi3(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_phi35(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);
std::string render_phi4_mini(const Messages& m, bool generation_prompt, const ChatSpecialTokens& special);

}  // namespace kvbench::chat
