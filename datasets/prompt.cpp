#include "datasets/prompt.h"

#include "harness/common/error.h"

namespace kvbench {

std::string format_template(const std::string& tmpl, const std::string& context, const std::string& input) {
  std::string out;
  out.reserve(tmpl.size() + context.size() + input.size());
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {  // {{ and }} are literal braces
      out.push_back(c);
      ++i;
    } else if (c == '{') {
      const auto close = tmpl.find('}', i);
      KV_CHECK(close != std::string::npos, "prompt template: unmatched '{' at offset ", i);
      const std::string field = tmpl.substr(i + 1, close - i - 1);
      if (field == "context") {
        out += context;
      } else if (field == "input") {
        out += input;
      } else {
        fail("prompt template: unknown field '{", field, "}' (LongBench templates use {context} and {input})");
      }
      i = close;
    } else {
      KV_CHECK(c != '}', "prompt template: single '}' at offset ", i);
      out.push_back(c);
    }
  }
  return out;
}

std::string truncate_middle(const Tokenizer& tokenizer, const std::string& prompt, std::int64_t max_length,
                            std::int64_t* untruncated_tokens) {
  KV_CHECK(max_length > 0, "max length must be positive, got ", max_length);
  const std::vector<TokenId> ids = tokenizer.encode(prompt, /*add_special=*/true);
  if (untruncated_tokens != nullptr) *untruncated_tokens = static_cast<std::int64_t>(ids.size());
  if (static_cast<std::int64_t>(ids.size()) <= max_length) return prompt;
  const auto half = static_cast<std::ptrdiff_t>(max_length / 2);
  const std::vector<TokenId> head(ids.begin(), ids.begin() + half), tail(ids.end() - half, ids.end());
  return tokenizer.decode(head, /*skip_special=*/true) + tokenizer.decode(tail, /*skip_special=*/true);
}

namespace {
// The number of leading ids of `built` that belong to the context part: the longest common prefix of the
// prompt's ids and the ids of the prompt's text up to the question part (rendered through the chat template
// where one applies, found with a marker so that a template that trims its content cannot move the split).
std::int64_t context_token_count(const SubsetSpec& subset, const Sample& sample, const Tokenizer& tokenizer,
                                 const PromptOptions& options, const BuiltPrompt& built) {
  const std::string question = format_template(question_template(subset), "", sample.input);
  KV_CHECK(built.text.size() >= question.size() &&
               built.text.compare(built.text.size() - question.size(), question.size(), question) == 0,
           subset.name, " / ", sample.id, ": the question part did not survive middle truncation, so the query-agnostic "
           "split is undefined (raise model.max_length)");
  const std::string context = built.text.substr(0, built.text.size() - question.size());
  std::vector<TokenId> prefix;
  if (built.chat_applied) {
    const std::string marker = "\x01kvbench-question\x01";
    const std::string rendered = render_user_prompt(*options.chat, context + marker + question, chat_special_tokens(tokenizer));
    const std::size_t at = rendered.find(marker);
    KV_CHECK(at != std::string::npos, "internal error: the chat template dropped the question marker");
    prefix = encode_rendered(tokenizer, rendered.substr(0, at), *options.chat, /*add_special=*/true);
  } else {
    prefix = tokenizer.encode(context, /*add_special=*/true);
  }
  std::int64_t n = 0;
  while (n < static_cast<std::int64_t>(std::min(prefix.size(), built.ids.size())) && prefix[n] == built.ids[n]) ++n;
  return std::min<std::int64_t>(n, static_cast<std::int64_t>(built.ids.size()) - 1);  // at least one question token
}
}  // namespace

BuiltPrompt build_prompt(const SubsetSpec& subset, const Sample& sample, const Tokenizer& tokenizer,
                         const PromptOptions& options) {
  BuiltPrompt out;
  const std::string full = format_template(subset.prompt, sample.context, sample.input);
  out.text = truncate_middle(tokenizer, full, options.max_length, &out.untruncated_tokens);
  out.truncated = out.untruncated_tokens > options.max_length;
  out.chat_applied = subset.chat && options.chat != nullptr;
  out.ids = encode_prompt(tokenizer, out.text, out.chat_applied ? options.chat : nullptr, /*add_special=*/true);
  if (options.split_question) out.context_tokens = context_token_count(subset, sample, tokenizer, options, out);
  return out;
}

std::vector<std::pair<std::int64_t, std::int64_t>> evidence_token_spans(const SubsetSpec& subset, const Sample& sample,
                                                                        const Tokenizer& tokenizer,
                                                                        const BuiltPrompt& built,
                                                                        std::int64_t max_length) {
  std::vector<std::pair<std::int64_t, std::int64_t>> spans;
  if (sample.evidence.empty() || built.chat_applied) return spans;
  // The template's text before {context}, found through a marker the template cannot contain.
  const std::string marker = "\x01kvbench-context\x01";
  const std::string marked = format_template(subset.prompt, marker, sample.input);
  const std::size_t at = marked.find(marker);
  if (at == std::string::npos) return spans;
  const std::string before = marked.substr(0, at);
  auto tokens_up_to = [&](std::int64_t byte) {
    return static_cast<std::int64_t>(
        tokenizer.encode(before + sample.context.substr(0, static_cast<std::size_t>(byte)), /*add_special=*/true).size());
  };
  const std::int64_t n = built.untruncated_tokens, T = static_cast<std::int64_t>(built.ids.size());
  const std::int64_t half = max_length / 2, removed = built.truncated ? n - 2 * half : 0;
  // Original position -> position in the fed prompt (middle truncation keeps [0, half) and [n - half, n)).
  auto place = [&](std::int64_t p) -> std::int64_t {
    if (!built.truncated || p < half) return p;
    if (p >= n - half) return p - removed;
    return half;  // inside the removed middle: clamp to the cut
  };
  for (const auto& [a, b] : sample.evidence) {
    const std::int64_t start = std::max<std::int64_t>(0, tokens_up_to(a) - 1), end = tokens_up_to(b);
    const std::int64_t s = std::min(place(start), T), e = std::min(place(end), T);
    if (e > s) spans.emplace_back(s, e);
  }
  return spans;
}

}  // namespace kvbench
