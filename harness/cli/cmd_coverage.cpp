// kvbench coverage: unique-token coverage of several policies and budgets on LongBench prompts, each prompt
// prefilled once for all of them. Prints mean layer coverage, model coverage, head overlap and vocabulary
// coverage per policy x budget (kvec.md's statistics).
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "datasets/loader.h"
#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "harness/cli/commands.h"
#include "harness/cli/options.h"
#include "harness/common/error.h"
#include "harness/common/log.h"
#include "harness/engine/engine.h"
#include "harness/tokenizer/tokenizer.h"
#include "harness/runner/session.h"
#include "harness/stats/coverage.h"

namespace kvbench::cli {
namespace {

struct CoverageState {
  ModelOptions model;
  std::string tokenizer, data_dir, dataset = "multi_news", policies = "snapkv,kvec", budgets = "64,128,256";
  std::size_t count = 20;
  std::int64_t min_tokens = 4096, max_length = 0, window = kDefaultCoverageWindow;
  bool json = false;
};

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Variant {
  std::string policy;
  std::int64_t budget;
  std::unique_ptr<EvictionPolicy> instance;
  double layer = 0, model = 0, overlap = 0, vocab = 0;
};

void run_coverage(const CoverageState& st) {
  Session session(st.model.session(st.tokenizer));
  const ModelConfig& config = session.config();
  KV_CHECK(session.tokenizer() != nullptr, "coverage needs a tokenizer: ", st.model.model_dir,
           " has none; pass --tokenizer PATH");
  const Tokenizer& tok = *session.tokenizer();
  std::vector<Variant> variants;
  for (const auto& name : split_names(st.policies))
    for (std::int64_t b : parse_id_list(st.budgets, "--budgets"))
      variants.push_back({name, b, make_policy({name, b}), 0, 0, 0, 0});
  KV_CHECK(!variants.empty(), "no policy x budget variants");

  const SubsetSpec& subset = find_subset(st.dataset);
  const auto samples = load_subset(resolve_data_dir(st.data_dir), st.dataset).samples;
  PromptOptions prompt_options;
  prompt_options.max_length = st.max_length > 0 ? st.max_length : (std::int64_t{1} << 40);
  std::vector<std::vector<std::int64_t>> prompts;
  for (const auto& s : samples) {
    if (prompts.size() >= st.count) break;
    const BuiltPrompt p = build_prompt(subset, s, tok, prompt_options);
    if (static_cast<std::int64_t>(p.ids.size()) < st.min_tokens) continue;
    std::vector<std::int64_t> ids(p.ids.begin(), p.ids.end());
    for (auto& id : ids) KV_CHECK(id < config.vocab_size, "token id ", id, " does not fit the model's vocabulary");
    prompts.push_back(std::move(ids));
  }
  KV_CHECK(prompts.size() == st.count, st.dataset, " has only ", prompts.size(), " prompts of at least ",
           st.min_tokens, " tokens (asked for ", st.count, ")");

  const Engine& engine = session.engine();
  std::vector<EvictionPolicy*> raw;
  for (auto& v : variants) raw.push_back(v.instance.get());
  std::int64_t total_tokens = 0;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const PrefillResult r = engine.prefill(prompts[i], raw, PrefillOptions{});
    total_tokens += static_cast<std::int64_t>(prompts[i].size());
    const at::Tensor ids = at::tensor(prompts[i], at::TensorOptions().dtype(at::kLong));
    for (std::size_t v = 0; v < variants.size(); ++v) {
      const CoverageStats s = coverage_of(r.caches[v], st.window, ids);
      variants[v].layer += s.mean_layer_coverage() / static_cast<double>(prompts.size());
      variants[v].model += s.model_coverage / static_cast<double>(prompts.size());
      variants[v].overlap += s.mean_head_overlap() / static_cast<double>(prompts.size());
      variants[v].vocab += s.vocab_coverage / static_cast<double>(prompts.size());
    }
    log::info("prompt ", i + 1, "/", prompts.size(), ": ", prompts[i].size(), " tokens, prefill ",
              log::fixed(r.seconds, 2), " s");
  }

  if (st.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& v : variants)
      rows.push_back({{"policy", v.policy}, {"budget", v.budget}, {"mean_layer_coverage", v.layer},
                      {"model_coverage", v.model}, {"mean_head_overlap", v.overlap}, {"vocab_coverage", v.vocab}});
    print_json({{"dataset", st.dataset}, {"prompts", prompts.size()}, {"mean_prompt_tokens", total_tokens / static_cast<std::int64_t>(prompts.size())},
                {"window", st.window}, {"variants", rows}});
    return;
  }
  std::cout << st.dataset << ": " << prompts.size() << " prompts, mean " << total_tokens / static_cast<std::int64_t>(prompts.size())
            << " tokens; coverage over positions [0, T - " << st.window << ")\n"
            << "| policy | budget | layer coverage | model coverage | head overlap | vocab coverage |\n"
            << "|---|---:|---:|---:|---:|---:|\n"
            << std::fixed << std::setprecision(4);
  for (const auto& v : variants)
    std::cout << "| " << v.policy << " | " << v.budget << " | " << v.layer << " | " << v.model << " | " << v.overlap
              << " | " << v.vocab << " |\n";
}

}  // namespace

Command add_coverage_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("coverage", "coverage statistics of policies x budgets on LongBench prompts");
  auto st = std::make_shared<CoverageState>();
  st->model.add_to(cmd);
  cmd->add_option("--tokenizer", st->tokenizer, "tokenizer (default: the checkpoint's)");
  cmd->add_option("--data-dir", st->data_dir, "LongBench folder (default: $LONGBENCH_DIR)");
  cmd->add_option("--dataset", st->dataset, "subset")->capture_default_str();
  cmd->add_option("--count", st->count, "number of prompts")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--min-tokens", st->min_tokens, "only prompts at least this long")->capture_default_str();
  cmd->add_option("--max-length", st->max_length, "middle-truncate prompts to this many tokens (0: none)");
  cmd->add_option("--policies", st->policies, "comma-separated policy names")->capture_default_str();
  cmd->add_option("--budgets", st->budgets, "comma-separated budgets (tokens per KV head)")->capture_default_str();
  cmd->add_option("--window", st->window, "window w excluded from the statistics")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 24))
      ->capture_default_str();
  cmd->add_flag("--json", st->json, "print one JSON object");
  return {cmd, [st] { run_coverage(*st); }};
}

}  // namespace kvbench::cli
