#pragma once
// `kvbench run`: every sample is prefilled once, every variant (policy x budget) gets its own compressed cache
// from that prefill and decodes greedily; predictions are appended and flushed per sample, so a killed run
// resumes where it stopped (--resume) and ends with the same files as an uninterrupted one.

#include <string>
#include <vector>

#include "harness/report/run_layout.h"
#include "harness/runner/run_config.h"

namespace kvbench {

struct RunOptions {
  bool resume = false;     ///< continue the run in output_dir, skipping finished samples
  bool dry_run = false;    ///< print the plan (samples, variants, tokens) without loading the model
  bool fail_fast = false;  ///< stop at the first failing sample instead of recording it and going on
  std::string command_line;
};

/// Runs the experiment; throws kvbench::Error on anything that stops it.
void run_experiment(const RunConfig& config, const RunOptions& options);

/// report.json of the run in config.output_dir, rebuilt from its prediction, timing and error files.
nlohmann::json build_report(const RunConfig& config);

}  // namespace kvbench
