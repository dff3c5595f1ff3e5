#include "harness/runner/run_checks.h"

#include <sys/stat.h>

#include <algorithm>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
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

namespace {
// `path` is missing or of the kind the run keeps there; anything else is a damaged run folder, refused before the
// run reads or writes it.
void check_entry(const std::string& path, bool folder) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // missing (or under a file: that file is reported first)
  KV_CHECK(S_ISDIR(st.st_mode) == folder && (folder || S_ISREG(st.st_mode)), "'", path, "' is ", file_kind(st.st_mode),
           " where a run keeps ", folder ? "a folder" : "a regular file", ": the run folder is damaged (restore it, or "
           "run into another output_dir)");
}

void check_run_layout(const RunConfig& rc) {
  const RunLayout layout(rc.output_dir);
  for (const std::string& file : {layout.manifest(), layout.report(), layout.resolved_config()}) check_entry(file, false);
  const std::vector<std::string> subsets = rc.uses_datasets() ? rc.subsets : std::vector<std::string>{"prompt"};
  for (const char* kind : {"predictions", "timing", "errors"}) {
    check_entry(paths::join(rc.output_dir, kind), true);
    for (const auto& v : rc.variants) {
      check_entry(paths::join(paths::join(rc.output_dir, kind), v.name), true);
      for (const auto& s : subsets)
        check_entry(paths::join(paths::join(paths::join(rc.output_dir, kind), v.name), s + ".jsonl"), false);
    }
  }
}
}  // namespace

void check_output_dir(const RunConfig& rc, const RunOptions& options) {
  const RunLayout layout(rc.output_dir);
  if (paths::exists(rc.output_dir)) {
    check_directory(rc.output_dir, "output_dir");
    check_run_layout(rc);  // nothing of the wrong kind where the run will read or write
  }
  const bool holds_run = paths::exists(paths::join(rc.output_dir, "predictions"));
  if (!options.resume && holds_run)
    fail("'", rc.output_dir, "' already holds a run: pass --resume to continue it, or choose another name or "
         "output_dir");
  if (!options.resume) return;
  const std::string resolved = layout.resolved_config();
  if (!paths::exists(resolved)) {
    KV_CHECK(!holds_run, "'", rc.output_dir, "' holds predictions but no config.resolved.json: it is not a run "
             "kvbench can resume (choose another output_dir)");
    return;
  }
  // A resumed run must go on computing what it started: its rows and the new ones share variant names.
  const nlohmann::json previous = read_own_json_file(resolved);
  const std::string key = resume_difference(previous, rc.resolved);
  if (key.empty()) return;
  std::string safe;
  for (const auto& k : resume_safe_keys()) safe += (safe.empty() ? "" : ", ") + k;
  fail("--resume: the config differs from the run's (", resolved, ") in '", key, "'; a resumed run must compute what "
       "it started computing (only ", safe, " may change): restore that key, or start a new run in another output_dir");
}

void check_run_sizes(const RunConfig& rc, const ModelConfig& config, const Session& session) {
  // The weights first: a model that does not fit is the cause of every size that follows from it.
  // A random model's weights are made in float32 on the host, then written in their storage dtype.
  if (rc.random_model)
    check_fits(config.parameter_count() * 8, at::kCPU, "model.random (" + std::to_string(config.parameter_count()) +
                                                          " parameters)");
  const Longest prompt = longest_prompt(rc);
  const Longest fresh = most_new_tokens(rc);
  // Coverage leaves out the last coverage_window positions of each prompt: a window asked for that is as long as
  // every prompt leaves nothing to measure. (With the default window, a sample too short gets no coverage: null.)
  KV_CHECK(!rc.coverage_window_given || rc.coverage_window < prompt.tokens, "coverage_window (", rc.coverage_window,
           ") must be shorter than the prompts (", prompt.key, ": ", prompt.tokens, " tokens): coverage is measured "
           "over all but the last coverage_window positions");
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
