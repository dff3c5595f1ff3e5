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

BuiltPrompt build_prompt(const SubsetSpec& subset, const Sample& sample, const Tokenizer& tokenizer,
                         const PromptOptions& options) {
  BuiltPrompt out;
  const std::string full = format_template(subset.prompt, sample.context, sample.input);
  out.text = truncate_middle(tokenizer, full, options.max_length, &out.untruncated_tokens);
  out.truncated = out.untruncated_tokens > options.max_length;
  out.chat_applied = subset.chat && options.chat != nullptr;
  out.ids = encode_prompt(tokenizer, out.text, out.chat_applied ? options.chat : nullptr, /*add_special=*/true);
  return out;
}

}  // namespace kvbench
