#pragma once
// Writes report.json (docs/report-format.md) from a run's files: scores by the official scorer, averages
// recomputed, LongBench-E buckets, coverage aggregates, timing and memory. Its reader is report_file.h. No
// libtorch: what the runner knows of each variant comes in as plain fields.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

/// A variant as report.json names it.
struct ReportVariantInfo {
  std::string name;      ///< e.g. "snapkv-128"
  std::string policy;    ///< registry name
  std::string describe;  ///< the policy's describe()
  nlohmann::json budget; ///< as configured (null for the full cache)
  nlohmann::json params = nlohmann::json::object();
  std::string reference = "kvbench";  ///< whose conventions the policy follows (PolicySpec::reference)
  /// What every number of the variant was measured under (reports and tables print them).
  std::string protocol = "question_aware";  ///< question_aware | query_agnostic
  std::string budget_definition;            ///< e.g. "tokens per KV head per layer, window included"
  std::string granularity = "kv_head";      ///< whose caches the budget sizes: kv_head (kvbench's) or query_head
  nlohmann::json window;                    ///< the observation window always kept (null: none)
  nlohmann::json decode;                    ///< the decode-time budget (null: prefill-time eviction only)
};

/// What the writer needs of a run.
struct ReportInputs {
  std::string run_name;
  std::string output_dir;
  std::vector<std::string> subsets;  ///< as the files name them ("prompt" for raw-prompt runs)
  bool scored = true;                ///< LongBench/synthetic subsets with answers (false: raw prompts)
  std::vector<ReportVariantInfo> variants;
  /// What was evaluated, for `kvbench check` to tell comparable runs from others (null / empty: not recorded):
  nlohmann::json model;       ///< {"name", "path", "config_sha256"}: the checkpoint and its config.json
  std::string config_sha256;  ///< the evaluation settings' digest (run_config.h: evaluation_sha256)
  nlohmann::json data;        ///< the data files read and their sha256 (datasets/longbench_data.h)
};

/// report.json of the run in inputs.output_dir, rebuilt from its prediction, timing, error and manifest files;
/// "sample_ids" lists per subset the _id of every sample any variant predicted or failed, in file order.
nlohmann::json build_report(const ReportInputs& inputs);

}  // namespace kvbench
