#pragma once
// Building a LongBench prompt exactly as the official pred.py does: template -> middle truncation by tokens
// to the model's max length -> chat template where the subset allows it -> token ids.

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/loader.h"
#include "datasets/subset.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench {

struct PromptOptions {
  std::int64_t max_length = 3500;      ///< model2maxlen: 3500 for 4k models, 31500 for 32k ...
  const ChatFormat* chat = nullptr;    ///< the model's chat format (none when null)
  bool split_question = false;         ///< also find the context/question split (query-agnostic protocol)
};

struct BuiltPrompt {
  std::string text;                   ///< after truncation, before the chat template
  std::vector<TokenId> ids;           ///< what the model is fed
  std::int64_t untruncated_tokens = 0;
  bool truncated = false;
  bool chat_applied = false;
  /// With PromptOptions::split_question: ids[0, context_tokens) are the context part, the rest the question
  /// part (question_template's text and the chat template's closing). The split is on a token boundary: a
  /// token that straddles the text boundary goes to the question part, so the parts' ids are exactly `ids`.
  std::int64_t context_tokens = 0;
};

/// Python's `template.format(context=..., input=...)` for LongBench templates ({{ and }} unescaped, any other
/// field an error).
std::string format_template(const std::string& tmpl, const std::string& context, const std::string& input);

/// If `prompt` has more than max_length tokens (encoded with special tokens, as the model would see it), keeps
/// decode(ids[:half]) + decode(ids[-half:]) with half = max_length / 2, special tokens skipped.
std::string truncate_middle(const Tokenizer& tokenizer, const std::string& prompt, std::int64_t max_length,
                            std::int64_t* untruncated_tokens = nullptr);

BuiltPrompt build_prompt(const SubsetSpec& subset, const Sample& sample, const Tokenizer& tokenizer,
                         const PromptOptions& options);

/// Prompt token positions [start, end) covered by each evidence span of `sample`, as `built` placed them:
/// token counts of the prompt text up to each span boundary (boundary tokens merge differently in the
/// whole text, so a span may gain one token at its start). Spans that middle truncation removed are dropped,
/// cut ones keep their surviving part. Empty when the sample marks no evidence, or when a chat template
/// wrapped the prompt (not mapped).
std::vector<std::pair<std::int64_t, std::int64_t>> evidence_token_spans(const SubsetSpec& subset, const Sample& sample,
                                                                        const Tokenizer& tokenizer,
                                                                        const BuiltPrompt& built,
                                                                        std::int64_t max_length);

}  // namespace kvbench
