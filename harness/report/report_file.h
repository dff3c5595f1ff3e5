#pragma once
// report.json (docs/report-format.md) as a struct model: loading with validation, and the LongBench
// column/category helpers the report tools (table, check, plot --report) share. No libtorch.
//
// Validation: every field the model holds is type-checked; a malformed or missing field throws
// kvbench::Error naming the file and the JSON path, e.g.
//   results/a/report.json: variants[2].scores.qasper must be a number, got string "21.8"
// Unknown extra fields are ignored. Required: "run" (string), "subsets" (array of strings), "variants"
// (array), and per variant "name" (string, unique in the file), "policy" (string), "budget" (present: null,
// a number, or an object such as {"evict": 0.9}) and "scores" (object of numbers). Everything else is
// optional (hand-written baselines stay short) but checked when present.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench::report {

/// Distribution of a per-sample statistic over a variant's samples.
struct Stat {
  double mean = 0, p10 = 0, p50 = 0, p90 = 0;
};

struct Coverage {
  std::map<std::string, Stat> stats;          ///< model_coverage, mean_layer_coverage, mean_head_overlap, ...
  std::vector<double> layer_coverage_curve;   ///< per layer, mean over samples (empty when absent)
  std::vector<double> head_overlap_curve;
};

struct BudgetTokens {
  double mean = 0, min = 0, max = 0;
};

struct ReportVariant {
  std::string name, policy, describe;
  nlohmann::json budget;  ///< as configured: null (full), tokens, {"evict": r} or {"kv_bytes": n}
  nlohmann::json params = nlohmann::json::object();
  std::map<std::string, double> scores;  ///< subset → score (official rounding); absent: no scored sample
  std::map<std::string, std::int64_t> n, errors;
  std::map<std::string, std::map<std::string, double>> buckets;  ///< LongBench-E subset → length bucket → score (null buckets left out)
  std::map<std::string, double> categories;
  std::optional<double> average;
  std::optional<Coverage> coverage;
  std::map<std::string, double> timing;
  std::optional<double> kv_bytes_mean, kv_bytes_max;
  std::optional<BudgetTokens> budget_tokens;
  /// What the numbers were measured under (reports before these fields: question_aware, tokens, window 32).
  std::string protocol = "question_aware";
  std::string budget_definition;
  /// Which heads a budget is kept for: "kv_head" (kvbench's caches, one per KV head) or "query_head" (a cache
  /// per query head, GQA expanded); empty when the report does not say (read as kv_head).
  std::string granularity;
  nlohmann::json window;  ///< null: none
  nlohmann::json decode;  ///< null: no decode-time budget

  /// The configured token budget when `budget` is a number of tokens (128 or {"tokens": 128}).
  std::optional<double> token_budget() const;
  /// x position on a budget axis: the token budget, else budget_tokens.mean (eviction rates, KV bytes).
  std::optional<double> budget_for_axis() const;
  /// Full cache: policy "full" or a null budget.
  bool is_full() const;
};

struct ReportFile {
  std::string path;  ///< where it was loaded from (names it in messages)
  std::string run, kvbench_version;
  std::vector<std::string> subsets;
  std::vector<ReportVariant> variants;
  std::optional<double> peak_device_memory_bytes, wall_seconds;
  /// What was evaluated (report_writer.h; absent from older and hand-written reports: null / nullopt).
  nlohmann::json model;  ///< {"name", "path", "config_sha256"}
  std::optional<std::string> config_sha256;
  nlohmann::json data;   ///< {"dir", "manifest", "files": {"<subset>.jsonl": sha256}}
  std::optional<std::map<std::string, std::vector<std::string>>> sample_ids;  ///< subset -> sample _ids

  /// The variant called `name`, or nullptr.
  const ReportVariant* find(const std::string& name) const;
};

/// Validates `root` (see the header comment); `source` names the file in errors.
ReportFile parse_report(const nlohmann::json& root, const std::string& source);
/// Reads and validates a report.json file.
ReportFile load_report(const std::string& path);

/// A budget for people: null → "full", 128 → "128", {"evict": 0.9} → "evict=0.9", other JSON → its dump.
std::string budget_label(const nlohmann::json& budget);

// --- LongBench subsets, from the dataset registry (datasets/subset.h) --------------------------------------

/// Table column order of `names` (duplicates dropped): the English LongBench subsets in the official order,
/// then the other registered subsets in registry order, then unregistered names in first-seen order.
std::vector<std::string> order_subsets(const std::vector<std::string>& names);
/// The category ("single-doc QA", ...) of a registered subset; "" for any other name (e.g. "qasper_e").
std::string subset_category(const std::string& name);
/// The categories that `subsets` touch, in the papers' order (category_order()).
std::vector<std::string> categories_of(const std::vector<std::string>& subsets);

}  // namespace kvbench::report
