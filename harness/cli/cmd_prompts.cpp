// kvbench prompts: the prompts a run would feed the model for one LongBench subset, built exactly as the
// official pred.py does (template, middle truncation by tokens, chat template), with their token counts.
#include <iostream>
#include <memory>

#include "datasets/loader.h"
#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/tokenizer/chat_template.h"
#include "harness/runner/session.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench::cli {
namespace {

struct PromptsState {
  std::string dataset, data_dir, tokenizer, chat = "none";
  std::int64_t max_length = 3500;
  std::size_t limit = 0;
  bool skip_bad_rows = false, with_text = false, with_ids = false;
};

void run_prompts(const PromptsState& st) {
  const SubsetSpec& subset = find_subset(st.dataset);
  SessionSpec spec;  // a tokenizer-only session: the tokenizer and chat format a run would resolve
  spec.tokenizer = st.tokenizer;
  spec.chat = st.chat;
  const Session session(spec);
  LoadOptions load;
  load.skip_bad_rows = st.skip_bad_rows;
  if (st.limit > 0) load.limit = st.limit;
  // Every row is read and validated before any tokenization.
  const LoadResult rows = load_subset(resolve_data_dir(st.data_dir), st.dataset, load);
  for (const auto& problem : rows.problems) std::cerr << "skipped: " << problem << "\n";
  const Tokenizer& tok = *session.tokenizer();
  PromptOptions options;
  options.max_length = st.max_length;
  options.chat = session.chat();
  std::size_t truncated = 0;
  for (const Sample& s : rows.samples) {
    const BuiltPrompt p = build_prompt(subset, s, tok, options);
    truncated += p.truncated ? 1 : 0;
    nlohmann::json row = {{"_id", s.id},
                          {"tokens", p.ids.size()},
                          {"untruncated_tokens", p.untruncated_tokens},
                          {"truncated", p.truncated},
                          {"chat", p.chat_applied}};
    if (st.with_text) row["prompt"] = p.text;
    if (st.with_ids) row["ids"] = p.ids;
    std::cout << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::cerr << st.dataset << ": " << rows.samples.size() << " prompts, " << truncated << " truncated to "
            << st.max_length << " tokens, " << rows.skipped << " malformed rows skipped" << std::endl;
}

}  // namespace

Command add_prompts_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("prompts", "build the LongBench prompts of one subset and print their token counts");
  auto st = std::make_shared<PromptsState>();
  cmd->add_option("--dataset", st->dataset, "subset, e.g. narrativeqa (qasper_e for LongBench-E)")->required();
  cmd->add_option("--data-dir", st->data_dir, "folder of <subset>.jsonl files (default: $LONGBENCH_DIR)");
  cmd->add_option("--tokenizer", st->tokenizer, "tokenizer file or checkpoint directory")->required();
  cmd->add_option("--max-length", st->max_length, "prompt token budget before the chat template (model2maxlen)")
      ->capture_default_str();
  cmd->add_option("--chat", st->chat, "chat format for the subsets that use one (none, llama2, mistral, llama3.1, ...)")
      ->capture_default_str();
  cmd->add_option("--limit", st->limit, "only the first N rows");
  cmd->add_flag("--skip-bad-rows", st->skip_bad_rows, "skip (and count) malformed rows instead of stopping");
  cmd->add_flag("--text", st->with_text, "also print each prompt's text (after truncation, before the chat template)");
  cmd->add_flag("--ids", st->with_ids, "also print each prompt's token ids");
  return {cmd, [st] { run_prompts(*st); }};
}

}  // namespace kvbench::cli
