#pragma once
// LongBench scoring of prediction files, as the official eval.py does it: subset → metric, the first-line rule
// (trec, triviaqa, samsum, lsht), per-sample max over the answers, subset score round(100 * mean, 2) with
// Python's rounding, and LongBench-E length buckets (NumPy mean and rounding, as eval.py's scorer_e).

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace kvbench::metrics {

/// The metric name of a LongBench subset ("narrativeqa" → "qa_f1"), or nullptr when unknown.
const char* subset_metric(const std::string& dataset);
/// Every subset name eval.py knows (21: the 16 English, 5 Chinese), in table order.
std::vector<std::string> known_subsets();
/// trec, triviaqa, samsum, lsht: `pred = pred.lstrip('\n').split('\n')[0]` before scoring.
bool uses_first_line(const std::string& dataset);

/// One row of a prediction file (the official format: pred, answers, all_classes, length).
struct PredictionRow {
  std::string pred;
  std::vector<std::string> answers;
  bool has_all_classes = false;  ///< false when all_classes is null
  std::vector<std::string> all_classes;
  std::optional<double> length;
};

struct PredictionFile {
  std::string path;
  std::vector<PredictionRow> rows;
};

/// Reads a JSONL prediction file. Every problem is a kvbench::Error naming the file, the line and the field.
PredictionFile read_prediction_file(const std::string& path);
/// Parses JSONL text (`source` names it in errors).
PredictionFile parse_prediction_jsonl(const std::string& text, const std::string& source);

/// Per-sample scores of eval.py's scorer. Like eval.py, all_classes is the LAST row's value for every row
/// (its loop variable survives the loop); it must not be null for classification subsets.
std::vector<double> sample_scores(const std::string& dataset, const PredictionFile& file);

/// round(100 * total / n, 2) with `total` summed left to right, as eval.py's scorer; throws when n == 0.
double subset_score(const std::vector<double>& samples);

/// LongBench-E: "0-4k" (length < 4000), "4-8k" (< 8000), "8k+".
inline constexpr std::array<const char*, 3> kLengthBuckets = {"0-4k", "4-8k", "8k+"};
int length_bucket(double length);

struct BucketScores {
  std::array<double, 3> score{};  ///< NaN for an empty bucket (np.mean([]))
  std::array<std::size_t, 3> count{};
};
/// eval.py's scorer_e: round(100 * np.mean(bucket), 2) per bucket, NumPy's pairwise mean and rounding.
/// Every row needs `length`.
BucketScores subset_score_e(const std::vector<double>& samples, const PredictionFile& file);

struct SubsetResult {
  std::string dataset;
  std::string path;
  std::size_t n = 0;
  std::vector<double> samples;
  double score = 0;      ///< without --e
  BucketScores buckets;  ///< with --e
};

/// Scores one file as `dataset` (throws for unknown names).
SubsetResult score_file(const std::string& dataset, const std::string& path, bool longbench_e);
/// The subset a file name stands for: eval.py's filename.split('.')[0], with a trailing "_e" dropped when that
/// gives a known subset (LongBench-E data files are named <subset>_e.jsonl).
std::string dataset_from_filename(const std::string& filename);
/// Scores every *.jsonl file of `dir` (sorted by subset name); unknown subsets and duplicates are errors.
std::vector<SubsetResult> score_directory(const std::string& dir, bool longbench_e);

/// JSON text of the results, numbers as Python's json.dumps prints them (18.99, 64.5, 7.0); an empty
/// LongBench-E bucket is null (eval.py writes NaN, which is not JSON).
std::string subset_json(const SubsetResult& result, bool longbench_e);     ///< {"dataset", "score", "n"}
std::string directory_json(const std::vector<SubsetResult>& results, bool longbench_e);  ///< {subset: score}
/// One line per sample: {"index": i, "score": s} (s printed like Python's repr, so exact).
std::string per_sample_jsonl(const SubsetResult& result);

}  // namespace kvbench::metrics
