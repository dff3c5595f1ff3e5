#pragma once
// What `kvbench run` will do, before it does any of it: every sample (a LongBench or synthetic row, or a raw
// prompt) and every variant, and where the results go. `--dry-run` prints the plan; the runner executes it
// sample by sample; sharding slices its samples.

#include <cstddef>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "datasets/loader.h"
#include "datasets/subset.h"
#include "harness/report/run_layout.h"
#include "harness/runner/run_config.h"
#include "harness/tokenizer/tokenizer.h"

namespace kvbench {

/// One prompt to run: a dataset row, or raw prompt `prompt_index` of a smoke run (subset "prompt", spec null).
struct Task {
  std::string subset;
  const SubsetSpec* spec = nullptr;
  Sample sample;
  std::size_t prompt_index = 0;
  std::size_t index = 0;  ///< position in the whole plan (a shard's tasks keep theirs)
};

struct RunPlan {
  std::vector<Task> tasks;
  const std::vector<Variant>* variants = nullptr;  ///< the config's
  RunLayout layout{""};
  std::size_t skipped_rows = 0;                    ///< malformed rows skipped (skip_bad_rows)

  /// The subsets as the run's files name them ("prompt" for raw-prompt runs).
  std::vector<std::string> subsets;
  /// Samples per subset.
  std::map<std::string, std::size_t> per_subset() const;
};

/// Reads (or, for datasets.synth, generates with `tokenizer`) every sample; every row is validated here,
/// before any model work. `tokenizer` may be null for raw-prompt runs.
RunPlan make_plan(const RunConfig& config, const Tokenizer* tokenizer);

/// The --dry-run text: model, variants, samples per subset, prompt tokens (when a tokenizer is at hand).
void print_plan(std::ostream& out, const RunConfig& config, const RunPlan& plan, const Tokenizer* tokenizer);

}  // namespace kvbench
