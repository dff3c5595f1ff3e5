#include "harness/report/report_writer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/jsonl.h"
#include "harness/common/paths.h"
#include "harness/report/run_layout.h"
#include "kvbench/version.h"
#include "metrics/scorer.h"

namespace kvbench {
namespace {

// mean, and the 10th/50th/90th percentiles with linear interpolation (numpy's default).
nlohmann::json summarize(std::vector<double> values) {
  if (values.empty()) return nullptr;
  std::sort(values.begin(), values.end());
  auto pct = [&](double q) {
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
  };
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return {{"mean", mean}, {"p10", pct(0.1)}, {"p50", pct(0.5)}, {"p90", pct(0.9)}};
}

// A number of a row of the run's files (0 when absent or null). Rows were written by kvbench, but a run folder can
// be damaged or edited: anything else is an error naming the file and the key, not the JSON library's complaint.
double number_in(const nlohmann::json& row, const char* key, const std::string& file) {
  KV_CHECK(row.is_object(), file, ": every row must be a JSON object, found ", json_type_name(row));
  if (!row.contains(key) || row[key].is_null()) return 0.0;
  KV_CHECK(row[key].is_number(), file, ": '", key, "' must be a number in every row, found ", json_type_name(row[key]));
  return row[key].get<double>();
}

std::vector<double> numbers_in(const nlohmann::json& list, const char* key, const std::string& file) {
  KV_CHECK(list.is_array(), file, ": '", key, "' must be a list of numbers, found ", json_type_name(list));
  std::vector<double> out;
  for (const auto& x : list) {
    KV_CHECK(x.is_number(), file, ": '", key, "' must be a list of numbers");
    out.push_back(x.get<double>());
  }
  return out;
}

// A byte count for the report (integers in JSON), from a number that was checked to be one.
std::int64_t byte_count(double bytes) {
  return std::isfinite(bytes) && bytes >= 0 && bytes < 9e18 ? static_cast<std::int64_t>(bytes) : 0;
}

}  // namespace

nlohmann::json build_report(const ReportInputs& in) {
  const RunLayout layout(in.output_dir);
  const std::vector<std::string>& subsets = in.subsets;
  nlohmann::json variants = nlohmann::json::array();
  std::map<std::string, std::vector<std::string>> sample_ids;  // subset -> ids, first seen first
  std::map<std::string, std::set<std::string>> seen;
  const auto note_id = [&](const std::string& subset, const nlohmann::json& row) {
    const std::string id = row.value("_id", std::string());
    if (!id.empty() && seen[subset].insert(id).second) sample_ids[subset].push_back(id);
  };
  for (const auto& v : in.variants) {
    nlohmann::json scores = nlohmann::json::object(), n = nlohmann::json::object(), errors = nlohmann::json::object();
    nlohmann::json buckets = nlohmann::json::object();
    std::map<std::string, std::vector<double>> stats;  // coverage statistic -> per sample
    std::vector<std::vector<double>> layer_curves, overlap_curves;
    std::vector<double> kv_bytes, budgets;
    double prefill = 0, compression = 0, decode = 0, prompt_tokens = 0, new_tokens = 0, decode_steps = 0;
    std::optional<std::int64_t> variant_peak;  // largest per-sample peak (shared by the sample's variants)
    for (const auto& subset : subsets) {
      const std::string preds = layout.predictions(v.name, subset);
      const auto rows = read_jsonl_rows(preds);
      const auto failed = read_jsonl_rows(layout.errors(v.name, subset));
      n[subset] = rows.size();
      errors[subset] = failed.size();
      for (const auto* list : {&rows, &failed})
        for (const auto& row : *list) note_id(subset, row);
      if (!rows.empty() && in.scored) {
        scores[subset] = metrics::score_file(base_subset(subset), preds, false).score;
        if (base_subset(subset) != subset) {
          const auto e = metrics::score_file(base_subset(subset), preds, true);
          nlohmann::json b = nlohmann::json::object();
          for (std::size_t i = 0; i < metrics::kLengthBuckets.size(); ++i)
            b[metrics::kLengthBuckets[i]] = std::isnan(e.buckets.score[i]) ? nlohmann::json(nullptr) : nlohmann::json(e.buckets.score[i]);
          buckets[subset] = b;
        }
      }
      for (const auto& row : rows) {
        kv_bytes.push_back(number_in(row, "kv_bytes", preds));
        budgets.push_back(number_in(row, "budget", preds));
        if (!row.contains("coverage") || row["coverage"].is_null()) continue;
        const auto& c = row["coverage"];
        for (const char* key : {"model_coverage", "mean_layer_coverage", "mean_head_overlap", "vocab_coverage", "evidence_recall"})
          if (c.is_object() && c.contains(key) && c[key].is_number()) stats[key].push_back(c[key].get<double>());
        if (c.contains("layer_coverage")) layer_curves.push_back(numbers_in(c["layer_coverage"], "layer_coverage", preds));
        if (c.contains("head_overlap")) overlap_curves.push_back(numbers_in(c["head_overlap"], "head_overlap", preds));
      }
      const std::string timing = layout.timing(v.name, subset);
      for (const auto& t : read_jsonl_rows(timing)) {
        prefill += number_in(t, "prefill_seconds", timing);
        compression += number_in(t, "compression_seconds", timing);
        decode += number_in(t, "decode_seconds", timing);
        prompt_tokens += number_in(t, "prompt_tokens", timing);
        new_tokens += number_in(t, "new_tokens", timing);
        decode_steps += number_in(t, "decode_steps", timing);
        if (t.contains("peak_device_memory_bytes") && t["peak_device_memory_bytes"].is_number())
          variant_peak = std::max(variant_peak.value_or(0), byte_count(number_in(t, "peak_device_memory_bytes", timing)));
      }
    }
    // Category and overall averages, recomputed from the per-subset scores.
    std::map<std::string, std::vector<double>> by_category;
    std::vector<double> all;
    for (const auto& [subset, score] : scores.items()) {
      by_category[find_subset(subset).category].push_back(score.get<double>());
      all.push_back(score.get<double>());
    }
    nlohmann::json categories = nlohmann::json::object();
    for (const auto& c : category_order())
      if (by_category.count(c))
        categories[c] = std::accumulate(by_category[c].begin(), by_category[c].end(), 0.0) / static_cast<double>(by_category[c].size());
    nlohmann::json coverage = nlohmann::json::object();
    for (const auto& [key, values] : stats) coverage[key] = summarize(values);
    auto mean_curve = [](const std::vector<std::vector<double>>& curves) {
      std::vector<double> mean;
      if (curves.empty()) return mean;
      mean.assign(curves[0].size(), 0.0);
      for (const auto& c : curves)
        for (std::size_t i = 0; i < mean.size() && i < c.size(); ++i) mean[i] += c[i] / static_cast<double>(curves.size());
      return mean;
    };
    coverage["layer_coverage_curve"] = mean_curve(layer_curves);
    coverage["head_overlap_curve"] = mean_curve(overlap_curves);
    const auto budget_summary = summarize(budgets);
    variants.push_back({
        {"name", v.name},
        {"policy", v.policy},
        {"describe", v.describe},
        {"budget", v.budget},
        {"params", v.params},
        {"reference", v.reference},
        {"protocol", v.protocol},
        {"budget_definition", v.budget_definition},
        {"granularity", v.granularity},
        {"window", v.window},
        {"decode", v.decode},
        {"sliding_layers", v.sliding_layers},
        {"scores", scores},
        {"n", n},
        {"errors", errors},
        {"buckets", buckets},
        {"categories", categories},
        {"average", all.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size()))},
        {"coverage", coverage},
        {"timing", {{"prefill_seconds", prefill},
                    {"compression_seconds", compression},
                    {"decode_seconds", decode},
                    {"prompt_tokens", prompt_tokens},
                    {"new_tokens", new_tokens},
                    {"prefill_tokens_per_second", prefill > 0 ? prompt_tokens / prefill : 0.0},
                    {"decode_tokens_per_second", decode > 0 ? decode_steps / decode : 0.0}}},
        {"peak_device_memory_bytes", variant_peak ? nlohmann::json(*variant_peak) : nlohmann::json(nullptr)},
        {"kv_bytes", {{"mean", kv_bytes.empty() ? 0.0 : std::accumulate(kv_bytes.begin(), kv_bytes.end(), 0.0) / static_cast<double>(kv_bytes.size())},
                      {"max", kv_bytes.empty() ? 0.0 : *std::max_element(kv_bytes.begin(), kv_bytes.end())}}},
        {"budget_tokens", budget_summary.is_null() ? nlohmann::json(nullptr)
                                                   : nlohmann::json{{"mean", budget_summary["mean"]},
                                                                    {"min", *std::min_element(budgets.begin(), budgets.end())},
                                                                    {"max", *std::max_element(budgets.begin(), budgets.end())}}},
    });
  }
  // Peak memory and wall time over every session of the run.
  std::int64_t peak = 0;
  std::optional<std::int64_t> peak_device;
  double wall = 0;
  if (paths::exists(layout.manifest())) {
    const auto manifest = read_manifest(layout.manifest());  // its shape checked
    for (const auto& s : manifest.value("sessions", nlohmann::json::array())) {
      peak = std::max<std::int64_t>(peak, s.value("peak_host_rss_bytes", std::int64_t{0}));
      if (s.contains("peak_device_memory_bytes") && s["peak_device_memory_bytes"].is_number())
        peak_device = std::max(peak_device.value_or(0), s["peak_device_memory_bytes"].get<std::int64_t>());
      wall += s.value("wall_seconds", 0.0);
    }
  }
  nlohmann::json ids = nlohmann::json::object();
  for (const auto& subset : subsets) ids[subset] = sample_ids[subset];
  return {{"run", in.run_name},
          {"kvbench_version", KVBENCH_VERSION},
          {"model", in.model},
          {"config_sha256", in.config_sha256.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.config_sha256)},
          {"data", in.data},
          {"subsets", subsets},
          {"sample_ids", ids},
          {"variants", variants},
          {"peak_host_rss_bytes", peak},
          {"peak_device_memory_bytes", peak_device ? nlohmann::json(*peak_device) : nlohmann::json(nullptr)},
          {"wall_seconds", wall}};
}

}  // namespace kvbench
