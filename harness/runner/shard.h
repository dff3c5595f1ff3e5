#pragma once
// Sharding a run: shard I of N takes a deterministic share of the plan's samples, balanced by prompt length,
// and writes a complete run folder of its own under <output_dir>/shards/<I>-of-<N>/ (its config, manifest,
// predictions, timing, errors, report, and shard.json: which of the plan's samples it owns). merge_shards()
// joins the folders of all N shards into one run folder whose predictions are, row for row and byte for byte,
// those of the same run unsharded, and rebuilds its report. Nothing here assumes more than the results folder
// is shared between the machines that run the shards.

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/runner/plan.h"

namespace kvbench {
class FolderLock;
}

namespace kvbench {

struct Shard {
  std::size_t index = 0;  ///< 0-based
  std::size_t count = 1;
  /// Parses "I/N" (0 <= I < N); throws naming `what` on anything else.
  static Shard parse(const std::string& text, const std::string& what);
  std::string name() const;  ///< "I-of-N"
};

/// Where shard `shard` of a run writing to `output_dir` keeps its files.
std::string shard_dir(const std::string& output_dir, const Shard& shard);

/// The samples of `plan` that `shard` owns: the longest prompts are dealt first, each to the shard with the
/// least prompt text so far (ties to the lowest index); a shard keeps its samples in plan order.
RunPlan shard_plan(const RunPlan& plan, const Shard& shard, const std::string& output_dir);

/// shard.json of a shard's folder: its index, count and the plan indices, subsets and ids of its samples.
nlohmann::json shard_manifest(const RunPlan& shard_plan, const Shard& shard);

/// What merge_shards did.
struct MergeResult {
  std::string output_dir;
  std::size_t shards = 0, samples = 0, rows = 0;
  std::size_t error_rows = 0;  ///< failed (variant, sample) pairs, as the shards recorded them
  nlohmann::json report;
};

/// Joins the run folders `shard_dirs` (all N shards of one run) into `output_dir` ("" : the run's own
/// output_dir). Refuses shards of different configs (devices aside), missing or repeated shards, samples that
/// two shards both hold, and an output folder that holds a run that is not a merge. Locks every shard folder and
/// the output folder (unless the caller holds it: `held`) for the merge; writes only the files of the run's
/// variants and subsets there. `command` is what the locks say holds them.
MergeResult merge_shards(const std::vector<std::string>& shard_dirs, const std::string& output_dir,
                         const std::string& command, const FolderLock* held = nullptr);

/// The input config a shard was run from (its folder's config.input.json): what merge and resume re-read.
constexpr const char* kShardInputConfig = "config.input.json";

}  // namespace kvbench
