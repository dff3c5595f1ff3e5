#pragma once
// `kvbench run`: every sample is prefilled once, every variant (policy x budget) gets its own compressed cache
// from that prefill and decodes greedily; predictions are appended and flushed per sample, so a killed run
// resumes where it stopped (--resume) and ends with the same files as an uninterrupted one.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/report/run_layout.h"
#include "harness/runner/run_config.h"
#include "harness/runner/shard.h"

namespace kvbench {

struct RunOptions {
  bool resume = false;     ///< continue the run in output_dir, skipping finished samples
  bool dry_run = false;    ///< print the plan (samples, variants, tokens) without loading the model
  bool fail_fast = false;  ///< stop at the first failing sample instead of recording it and going on
  std::string command_line;
  /// Run only this shard's samples, in <output_dir>/shards/<I>-of-<N> (harness/runner/shard.h).
  std::optional<Shard> shard;
  /// One worker process per device, each a shard, merged at the end (harness/runner/workers.h).
  std::vector<std::string> devices;
  /// The config as given (after --set), before parsing: what shards and workers are re-run from.
  nlohmann::json input_config;
};

/// Runs the experiment; throws kvbench::Error on anything that stops it.
void run_experiment(const RunConfig& config, const RunOptions& options);

/// report.json of the run in config.output_dir, rebuilt from its prediction, timing and error files.
nlohmann::json build_report(const RunConfig& config);

/// budget.svg beside report.json (score against budget): what a sweep is for, at a glance. A plot is an extra:
/// failing to draw one (a run with one budget, no scores) is a note, never a failed run.
void write_budget_plot(const std::string& output_dir);

/// The short table a run prints at its end (scores, KV bytes, compression and decode speed per variant).
void print_run_summary(const nlohmann::json& report, const std::string& output_dir, std::size_t failures);

}  // namespace kvbench
