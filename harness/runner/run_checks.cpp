#include "harness/runner/run_checks.h"

#include <algorithm>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/device/memory.h"
#include "harness/engine/engine.h"
#include "harness/model/checkpoint.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

// The longest prompt the plan can feed the model, and the config key that sets it.
struct Longest {
  std::int64_t tokens = 0;
  std::string key;
};

Longest longest_prompt(const RunConfig& rc) {
  if (!rc.uses_datasets()) {
    if (!rc.prompt_ids.empty()) return {static_cast<std::int64_t>(rc.prompt_ids.size()), "prompt.ids"};
    const bool shaped = !rc.random_prompts.empty() && rc.random_prompts[0].new_tokens > 0;
    return {rc.random_prompt_tokens, shaped ? "prompt.random_ids.shape's longest prompt" : "prompt.random_ids.tokens"};
  }
  if (rc.synth && rc.synth->tokens < rc.max_length) return {rc.synth->tokens, "datasets.synth.tokens"};
  return {rc.max_length, "model.max_length"};
}

// The most new tokens any sample asks for, and where that number comes from.
Longest most_new_tokens(const RunConfig& rc) {
  if (rc.max_new_tokens) return {*rc.max_new_tokens, "max_new_tokens"};
  if (!rc.uses_datasets()) {
    std::int64_t shaped = 0;  // a prompt.random_ids.shape workload: each prompt its subset's max new tokens
    for (const auto& p : rc.random_prompts) shaped = std::max(shaped, p.new_tokens);
    return shaped > 0 ? Longest{shaped, "the max_new_tokens of prompt.random_ids.shape's subsets"}
                      : Longest{32, "max_new_tokens (default)"};
  }
  Longest most{0, "the subsets' max_new_tokens"};
  for (const auto& s : rc.subsets) most.tokens = std::max<std::int64_t>(most.tokens, find_subset(s).max_new_tokens);
  return most;
}

}  // namespace

ModelConfig run_model_config(const RunConfig& rc, const Session& session) {
  if (rc.random_model) return parse_model_config(random_model_config(*rc.random_model), "model.random");
  return session.config();
}

void check_output_dir(const RunConfig& rc, const RunOptions& options) {
  if (!options.resume && paths::exists(paths::join(rc.output_dir, "predictions")))
    fail("'", rc.output_dir, "' already holds a run: pass --resume to continue it, or choose another name or "
         "output_dir");
}

void check_run_sizes(const RunConfig& rc, const ModelConfig& config, const Session& session) {
  // The weights first: a model that does not fit is the cause of every size that follows from it.
  // A random model's weights are made in float32 on the host, then written in their storage dtype.
  if (rc.random_model)
    check_fits(config.parameter_count() * 8, at::kCPU, "model.random (" + std::to_string(config.parameter_count()) +
                                                          " parameters)");
  const Longest prompt = longest_prompt(rc);
  const Longest fresh = most_new_tokens(rc);
  check_prompt_size(config, session.dtype(), session.device(), prompt.tokens, prompt.key);
  check_generation_size(config, session.dtype(), session.device(), prompt.tokens, fresh.tokens,
                        static_cast<std::int64_t>(rc.variants.size()), fresh.key);
  if (rc.warmup_tokens > 0) check_prompt_size(config, session.dtype(), session.device(), rc.warmup_tokens, "warmup_tokens");
}

std::vector<std::string> check_variants(const RunConfig& rc, const ModelConfig& config, const Session& session) {
  std::vector<std::string> problems;
  SequenceInfo info;
  try {
    info = policy_sequence_info(config, static_cast<std::int64_t>(c10::elementSize(session.dtype())),
                                longest_prompt(rc).tokens,
                                parse_sliding_layers(rc.sliding_layers, "model.sliding_layers"));
  } catch (const Error& e) {
    return {short_error_message(e)};
  }
  for (const auto& v : rc.variants) {
    try {
      make_policy(v.spec)->begin_sequence(info);
    } catch (const Error& e) {
      problems.push_back("variant '" + v.name + "' on a prompt of " + std::to_string(info.prompt_len) +
                         " tokens: " + short_error_message(e));
    }
  }
  return problems;
}

void check_checkpoint(const RunConfig& rc, const ModelConfig& config, const Session& session) {
  if (rc.random_model) return;
  const Checkpoint checkpoint(rc.model_path);
  verify_checkpoint(config, checkpoint);
  const auto bytes = static_cast<std::int64_t>(checkpoint.total_elements() * c10::elementSize(session.dtype()));
  check_fits(bytes, session.device(), "the weights of " + rc.model_path);
}

}  // namespace kvbench
