#include "metrics/scorer.h"

#include <cstdint>

#include <dirent.h>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "datasets/subset.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "metrics/metric.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

constexpr std::size_t kMaxScoredBytes = std::size_t{1} << 20;

std::string known_list() {
  std::string out;
  for (const auto& name : known_subsets()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::string json_string(const std::string& s) { return nlohmann::json(s).dump(); }

std::string score_text(double x) {
  // json.dumps(float): repr; NaN (an empty LongBench-E bucket) has no JSON spelling, so null.
  return std::isnan(x) ? "null" : py::float_repr(x);
}

std::string buckets_json(const BucketScores& b) {
  std::string out = "{";
  for (std::size_t k = 0; k < kLengthBuckets.size(); ++k) {
    if (k) out += ", ";
    out += json_string(kLengthBuckets[k]) + ": " + score_text(b.score[k]);
  }
  return out + "}";
}

std::vector<std::string> string_list(const nlohmann::json& value, const std::string& where, const char* field) {
  KV_CHECK(value.is_array(), where, ": field \"", field, "\" must be a list of strings, got ", value.type_name());
  std::vector<std::string> out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    KV_CHECK(value[i].is_string(), where, ": field \"", field, "\" item ", i, " must be a string, got ",
             value[i].type_name());
    out.push_back(value[i].get<std::string>());
  }
  return out;
}

}  // namespace

// The subset rules come from the dataset registry (datasets/subset.h), the one place that says what each
// subset is; a LongBench-E file name ("qasper_e") is scored as its subset by the callers.
const char* subset_metric(const std::string& dataset) {
  const SubsetSpec* s = lookup_subset(dataset);
  return s ? s->metric.c_str() : nullptr;
}

std::vector<std::string> known_subsets() {
  std::vector<std::string> out;
  for (const auto& s : longbench_subsets()) out.push_back(s.name);
  return out;
}

bool uses_first_line(const std::string& dataset) {
  const SubsetSpec* s = lookup_subset(dataset);
  return s && s->first_line;
}

namespace {
// One row of a prediction file; `where` is "file:line".
PredictionRow parse_prediction_row(std::string line, const std::string& where) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  KV_CHECK(line.find_first_not_of(" \t") != std::string::npos, where, ": invalid JSON (empty line)");
  const nlohmann::json row = parse_json(line, where);
  KV_CHECK(row.is_object(), where, ": expected a JSON object, got ", row.type_name());
  PredictionRow r;
  const auto pred = row.find("pred");
  KV_CHECK(pred != row.end(), where, ": missing field \"pred\"");
  KV_CHECK(pred->is_string(), where, ": field \"pred\" must be a string, got ", pred->type_name());
  r.pred = pred->get<std::string>();
  const auto answers = row.find("answers");
  KV_CHECK(answers != row.end(), where, ": missing field \"answers\"");
  r.answers = string_list(*answers, where, "answers");
  const auto classes = row.find("all_classes");
  KV_CHECK(classes != row.end(), where,
           ": missing field \"all_classes\" (the official format has it on every row; null when unused)");
  if (!classes->is_null()) {
    r.all_classes = string_list(*classes, where, "all_classes");
    r.has_all_classes = true;
  }
  const auto length = row.find("length");
  if (length != row.end()) {
    KV_CHECK(length->is_number(), where, ": field \"length\" must be a number, got ", length->type_name());
    r.length = length->get<double>();
  }
  return r;
}
}  // namespace

PredictionFile parse_prediction_jsonl(const std::string& text, const std::string& source) {
  PredictionFile file;
  file.path = source;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    file.rows.push_back(parse_prediction_row(text.substr(pos, end - pos), source + ":" + std::to_string(line_no)));
    pos = end + 1;
  }
  return file;
}

PredictionFile read_prediction_file(const std::string& path) {
  PredictionFile file;
  file.path = path;
  LineReader in(path);  // streamed: a regular file, each line within the limit
  for (std::string line; in.next(line);)
    file.rows.push_back(parse_prediction_row(std::move(line), path + ":" + std::to_string(in.line_number())));
  return file;
}

std::vector<double> sample_scores(const std::string& dataset, const PredictionFile& file) {
  const char* metric_name = subset_metric(dataset);
  KV_CHECK(metric_name, "unknown LongBench dataset \"", dataset, "\" (known: ", known_list(), ")");
  const MetricInfo* metric = find_metric(metric_name);
  KV_CHECK(metric, "internal: no metric ", metric_name);
  // eval.py passes the all_classes of the file's last row to every sample.
  static const std::vector<std::string> kNone;
  const PredictionRow* last = file.rows.empty() ? nullptr : &file.rows.back();
  const bool classification = std::string(metric_name) == "classification";
  if (classification && last) {
    KV_CHECK(last->has_all_classes, file.path, ":", file.rows.size(),
             ": field \"all_classes\" is null, but ", dataset,
             " is scored by classification, which needs it (eval.py takes the last row's all_classes)");
  }
  const std::vector<std::string>& all_classes = last && last->has_all_classes ? last->all_classes : kNone;
  const bool first_line = uses_first_line(dataset);
  std::vector<double> out;
  out.reserve(file.rows.size());
  for (std::size_t i = 0; i < file.rows.size(); ++i) {
    const PredictionRow& row = file.rows[i];
    const std::string pred = first_line ? py::first_line(row.pred) : row.pred;
    // Metrics cost up to (prediction x answer) length: far beyond any LongBench text, refuse rather than spin.
    KV_CHECK(pred.size() <= kMaxScoredBytes, file.path, ":", i + 1, ": the prediction is ", pred.size(),
             " bytes, more than the ", kMaxScoredBytes, " kvbench scores (LongBench's longest answers are a few KB)");
    for (const std::string& answer : row.answers)
      KV_CHECK(answer.size() <= kMaxScoredBytes, file.path, ":", i + 1, ": an answer is ", answer.size(),
               " bytes, more than the ", kMaxScoredBytes, " kvbench scores");
    double score = 0.;
    try {
      if (metric->whole_list) {
        score = metric->whole_list(pred, row.answers);
      } else {
        for (const std::string& answer : row.answers) {
          const double s = metric->fn(pred, answer, all_classes);
          if (s > score) score = s;  // Python's max(score, s) keeps the first of equal values
        }
      }
    } catch (const Error& e) {
      fail(file.path, ":", i + 1, ": ", e.what());
    }
    out.push_back(score);
  }
  return out;
}

double subset_score(const std::vector<double>& samples) {
  KV_CHECK(!samples.empty(), "no predictions to score (eval.py divides by zero here)");
  double total = 0.;
  for (double s : samples) total += s;
  return py::round(100 * total / static_cast<double>(samples.size()), 2);
}

int length_bucket(double length) {
  if (length < 4000) return 0;
  if (length < 8000) return 1;
  return 2;
}

BucketScores subset_score_e(const std::vector<double>& samples, const PredictionFile& file) {
  KV_CHECK(samples.size() == file.rows.size(), "internal: sample count mismatch");
  std::array<std::vector<double>, 3> buckets;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    KV_CHECK(file.rows[i].length.has_value(), file.path, ":", i + 1,
             ": missing field \"length\" (LongBench-E buckets need it on every row)");
    buckets[static_cast<std::size_t>(length_bucket(*file.rows[i].length))].push_back(samples[i]);
  }
  BucketScores out;
  for (std::size_t k = 0; k < 3; ++k) {
    out.count[k] = buckets[k].size();
    out.score[k] = py::numpy_round(100 * py::numpy_mean(buckets[k]), 2);
  }
  return out;
}

SubsetResult score_file(const std::string& dataset, const std::string& path, bool longbench_e) {
  KV_CHECK(subset_metric(dataset), "unknown LongBench dataset \"", dataset, "\" (known: ", known_list(), ")");
  const PredictionFile file = read_prediction_file(path);
  KV_CHECK(!file.rows.empty(), "prediction file ", path, " has no rows");
  SubsetResult r;
  r.dataset = dataset;
  r.path = path;
  r.n = file.rows.size();
  r.samples = sample_scores(dataset, file);
  if (longbench_e) {
    r.buckets = subset_score_e(r.samples, file);
  } else {
    r.score = subset_score(r.samples);
  }
  return r;
}

std::string dataset_from_filename(const std::string& filename) {
  std::string name = filename.substr(0, filename.find('.'));
  if (!subset_metric(name) && is_longbench_e(name) && subset_metric(base_subset(name))) name = base_subset(name);
  return name;
}

std::vector<SubsetResult> score_directory(const std::string& dir, bool longbench_e) {
  check_directory(dir, "prediction directory");
  std::vector<std::string> files;
  DIR* d = ::opendir(dir.c_str());
  KV_CHECK(d != nullptr, "cannot list prediction directory ", dir);
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".jsonl") == 0) files.push_back(name);
  }
  ::closedir(d);
  KV_CHECK(!files.empty(), "no <subset>.jsonl files in ", dir);
  std::sort(files.begin(), files.end());
  std::vector<std::pair<std::string, std::string>> subsets;  // (dataset, file name)
  for (const std::string& name : files) {
    const std::string dataset = dataset_from_filename(name);
    KV_CHECK(subset_metric(dataset), paths::join(dir, name), ": unknown LongBench dataset \"", dataset,
             "\" (known: ", known_list(), ")");
    subsets.emplace_back(dataset, name);
  }
  std::sort(subsets.begin(), subsets.end());
  for (std::size_t i = 1; i < subsets.size(); ++i) {
    KV_CHECK(subsets[i].first != subsets[i - 1].first, dir, ": two files for subset ", subsets[i].first, ": ",
             subsets[i - 1].second, " and ", subsets[i].second);
  }
  std::vector<SubsetResult> results;
  for (const auto& [dataset, name] : subsets) results.push_back(score_file(dataset, paths::join(dir, name), longbench_e));
  return results;
}

std::string subset_json(const SubsetResult& result, bool longbench_e) {
  return "{\"dataset\": " + json_string(result.dataset) +
         ", \"score\": " + (longbench_e ? buckets_json(result.buckets) : score_text(result.score)) +
         ", \"n\": " + std::to_string(result.n) + "}";
}

std::string directory_json(const std::vector<SubsetResult>& results, bool longbench_e) {
  std::string out = "{";
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i) out += ", ";
    out += json_string(results[i].dataset) + ": " +
           (longbench_e ? buckets_json(results[i].buckets) : score_text(results[i].score));
  }
  return out + "}";
}

std::string per_sample_jsonl(const SubsetResult& result) {
  std::string out;
  for (std::size_t i = 0; i < result.samples.size(); ++i) {
    out += "{\"index\": " + std::to_string(i) + ", \"score\": " + py::float_repr(result.samples[i]) + "}\n";
  }
  return out;
}

}  // namespace kvbench::metrics
