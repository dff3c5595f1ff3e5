#pragma once
// The configuration of `kvbench run`: what to evaluate (a model, LongBench subsets or one raw prompt), with which
// eviction variants (policies x budgets), and where to write the results. JSON with comments; `--set key=value`
// overrides any key by its dotted path. Unknown keys and wrong types are errors that name the key.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/model/random_checkpoint.h"
#include "policies/registry.h"

namespace kvbench {

/// One evaluated configuration of the cache: a policy with its parameters and one budget.
struct Variant {
  std::string name;  ///< unique; the predictions folder name, e.g. "snapkv-128"
  PolicySpec spec;
};

struct RunConfig {
  std::string name = "run";
  std::string output_dir;  ///< default results/<name>
  std::uint64_t seed = 0;

  // model
  std::string model_path;                       ///< a checkpoint directory, or where `random` writes one
  std::optional<RandomModelSpec> random_model;  ///< smoke runs: a random-weights checkpoint written first
  std::string tokenizer;                        ///< default: the checkpoint's own
  std::string device = "cpu";
  std::string dtype = "auto";
  std::int64_t max_length = 3500;  ///< LongBench middle truncation (model2maxlen)
  std::string chat = "auto";       ///< a chat format, "auto" (tokenizer_config / architecture) or "none"
  std::int64_t prefill_chunk = 0;
  std::string batch_decode = "auto";  ///< decode a sample's variants together: on, off, auto (on for CUDA)

  // what to evaluate: LongBench subsets, or one raw prompt of token ids (smoke runs)
  std::vector<std::string> subsets;  ///< resolved from datasets.names (groups expanded)
  std::string data_dir;
  std::optional<std::size_t> limit;
  std::vector<std::string> ids;
  bool skip_bad_rows = false;
  std::vector<std::int64_t> prompt_ids;
  std::int64_t random_prompt_tokens = 0;
  std::int64_t random_prompt_count = 1;  ///< random prompts: this many samples, prompt i from seed + i
  std::uint64_t random_prompt_seed = 0;

  std::optional<std::int64_t> max_new_tokens;  ///< overrides the subsets' (raw prompts: 32)
  std::int64_t warmup_tokens = 0;              ///< an untimed prefill of this many tokens first
  std::vector<Variant> variants;

  nlohmann::json resolved;  ///< the whole configuration, defaults filled in (config.resolved.json)

  bool uses_datasets() const { return !subsets.empty(); }
};

/// Applies `key=value` overrides (dotted keys; values parsed as JSON when they parse, else strings).
void apply_overrides(nlohmann::json& config, const std::vector<std::string>& overrides);

/// Validates and resolves a configuration; `source` names it in errors.
RunConfig parse_run_config(const nlohmann::json& config, const std::string& source);

}  // namespace kvbench
