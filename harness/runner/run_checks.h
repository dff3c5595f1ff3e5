#pragma once
// What a run checks before it writes or loads anything, the same for `run` and `run --dry-run` (which stops
// after these): the output folder, every length and count against the model's limits and the device's memory,
// each variant's policy against the model, and the checkpoint's headers (names, shapes, dtypes; no data).

#include <string>
#include <vector>

#include "harness/model/model_config.h"
#include "harness/runner/run_config.h"
#include "harness/runner/runner.h"
#include "harness/runner/session.h"

namespace kvbench {

/// The model config a run will use: the checkpoint's config.json, or the random model's, parsed and checked.
ModelConfig run_model_config(const RunConfig& rc, const Session& session);

/// Refuses a non-empty output folder without --resume (before anything is written there).
void check_output_dir(const RunConfig& rc, const RunOptions& options);

/// Lengths (prompt, new tokens, warm-up) against the model's positions and the device's memory; a random
/// model's weights against host memory. Throws naming the config key.
void check_run_sizes(const RunConfig& rc, const ModelConfig& config, const Session& session);

/// Each variant's policy started on the longest prompt of the plan: the messages of those that fail (a budget
/// that holds less than one token of this model, say). A run still starts: such a variant's samples are
/// recorded as its errors, one by one.
std::vector<std::string> check_variants(const RunConfig& rc, const ModelConfig& config, const Session& session);

/// The checkpoint's files and headers against the config (every tensor's name, shape and dtype), and its size
/// in the compute dtype against the device's memory, reading no weights. Skipped for a random model.
void check_checkpoint(const RunConfig& rc, const ModelConfig& config, const Session& session);

}  // namespace kvbench
