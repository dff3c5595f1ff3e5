#include "harness/runner/plan.h"

#include <algorithm>

#include "datasets/longbench_data.h"
#include "datasets/prompt.h"
#include "datasets/synth.h"
#include "harness/common/error.h"
#include "harness/common/log.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

std::vector<Task> raw_prompt_tasks(const RunConfig& rc) {
  std::vector<Task> tasks;
  const std::size_t n = rc.random_prompts.empty() ? 1 : rc.random_prompts.size();  // prompt.ids: one prompt
  for (std::size_t i = 0; i < n; ++i) {
    Task t;
    t.subset = "prompt";
    t.sample.id = rc.random_prompts.empty() ? "prompt" : rc.random_prompts[i].id;
    t.prompt_index = i;
    tasks.push_back(std::move(t));
  }
  return tasks;
}

// Generated here, deterministically: the same config gives the same samples (and ids), so --resume works.
std::vector<Task> synthetic_tasks(const RunConfig& rc, const Tokenizer* tok) {
  KV_CHECK(tok != nullptr, "datasets.synth needs a tokenizer: ", rc.model_path, " has none; set model.tokenizer");
  const synth::Haystack haystack =
      rc.synth->haystack.empty() ? synth::Haystack() : synth::Haystack::from_directory(rc.synth->haystack);
  std::vector<Task> tasks;
  for (const auto& subset : rc.subsets)
    for (std::int64_t i = 0; i < rc.synth->count; ++i) {
      synth::SynthResult r = synth::generate_sample(subset, rc.synth->tokens, rc.synth->seed, static_cast<std::size_t>(i),
                                                    *tok, haystack);
      if (!rc.ids.empty() && std::find(rc.ids.begin(), rc.ids.end(), r.sample.id) == rc.ids.end()) continue;
      tasks.push_back({subset, &find_subset(subset), std::move(r.sample)});
    }
  log::info("generated ", tasks.size(), " synthetic samples of ", rc.synth->tokens, " tokens");
  return tasks;
}

std::vector<Task> dataset_tasks(const RunConfig& rc, std::size_t* skipped_rows) {
  const std::string dir = resolve_data_dir(rc.data_dir);
  check_data_dir(dir, rc.subsets);  // every missing subset named at once, before any row is read
  LoadOptions load;
  load.skip_bad_rows = rc.skip_bad_rows;
  load.limit = rc.limit;
  load.ids = rc.ids;
  std::vector<Task> tasks;
  for (const auto& subset : rc.subsets) {
    LoadResult r = load_subset(dir, subset, load);  // every row validated before any model work
    *skipped_rows += r.skipped;
    for (const auto& p : r.problems) log::warn("skipped: ", p);
    for (auto& s : r.samples) tasks.push_back({subset, &find_subset(subset), std::move(s)});
  }
  return tasks;
}

// A run that selects nothing, or asks for ids that are not there, would end "successfully" with an empty table.
void check_selection(const RunConfig& rc, const RunPlan& plan) {
  std::vector<std::string> missing;
  for (const auto& id : rc.ids) {
    const bool found = std::any_of(plan.tasks.begin(), plan.tasks.end(), [&](const Task& t) { return t.sample.id == id; });
    if (!found) missing.push_back(id);
  }
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", '" : "'") + missing[i] + "'";
    if (missing.size() > 5) list += " and " + std::to_string(missing.size() - 5) + " more";
    fail("datasets.ids: ", missing.size(), " of ", rc.ids.size(), " ids are in none of the selected subsets (",
         list, ")", rc.limit ? " or fall outside datasets.limit" : "");
  }
  KV_CHECK(!plan.tasks.empty(), "the run selects no samples (",
           plan.skipped_rows > 0 ? std::to_string(plan.skipped_rows) + " malformed rows were skipped and none was usable"
                                 : std::string("the selected subsets hold no rows"),
           "): nothing to evaluate");
}

}  // namespace

std::map<std::string, std::size_t> RunPlan::per_subset() const {
  std::map<std::string, std::size_t> n;
  for (const auto& t : tasks) ++n[t.subset];
  return n;
}

RunPlan make_plan(const RunConfig& rc, const Tokenizer* tokenizer) {
  RunPlan plan;
  plan.variants = &rc.variants;
  plan.layout = RunLayout(rc.output_dir);
  plan.subsets = rc.uses_datasets() ? rc.subsets : std::vector<std::string>{"prompt"};
  if (!rc.uses_datasets()) plan.tasks = raw_prompt_tasks(rc);
  else if (rc.synth) plan.tasks = synthetic_tasks(rc, tokenizer);
  else plan.tasks = dataset_tasks(rc, &plan.skipped_rows);
  for (std::size_t i = 0; i < plan.tasks.size(); ++i) plan.tasks[i].index = i;
  check_selection(rc, plan);
  return plan;
}

void print_plan(std::ostream& out, const RunConfig& rc, const RunPlan& plan, const Tokenizer* tok) {
  out << "run " << rc.name << " -> " << rc.output_dir << "\nmodel " << rc.model_path
      << (rc.random_model ? " (random weights, written by the run)" : "") << " on " << rc.device << " (" << rc.dtype
      << ")\n"
      << rc.variants.size() << " variants:";
  for (const auto& v : rc.variants) out << " " << v.name;
  out << "\n";
  // Every setting each variant resolves to (its reference's defaults, then its params), as reports record them.
  for (const auto& v : rc.variants) out << "  " << v.name << ": " << make_policy(v.spec)->describe() << "\n";
  out << plan.tasks.size() << " samples (" << plan.skipped_rows << " malformed rows skipped):\n";
  for (const auto& [subset, n] : plan.per_subset()) out << "  " << subset << ": " << n << "\n";
  if (!rc.uses_datasets()) {
    std::int64_t tokens = static_cast<std::int64_t>(rc.prompt_ids.size());
    for (const auto& p : rc.random_prompts) tokens += p.tokens;
    out << tokens << " prompt tokens\n";
    return;
  }
  if (tok == nullptr) {
    out << "token counts need the tokenizer (" << (rc.tokenizer.empty() ? rc.model_path : rc.tokenizer)
        << " has none)\n";
    return;
  }
  PromptOptions po;
  po.max_length = rc.max_length;
  std::int64_t tokens = 0;
  for (const auto& t : plan.tasks) tokens += static_cast<std::int64_t>(build_prompt(*t.spec, t.sample, *tok, po).ids.size());
  out << tokens << " prompt tokens (before chat templates), each prefilled once for all " << rc.variants.size()
      << " variants\n";
}

}  // namespace kvbench
