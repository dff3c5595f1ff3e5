#pragma once
// LongBench v1 metrics, with the semantics and quirks of the official THUDM/LongBench metrics.py (see
// ../shared/docs/longbench.md, "Scoring", and docs/metrics.md). Each takes one prediction and ONE gold answer
// (UTF-8); the scorer takes the max over the answers. Inputs are Python str in the original, so everything
// works on code points.

#include <string>
#include <string_view>
#include <vector>

namespace kvbench::metrics {

/// metric(prediction, ground_truth, all_classes) → score in [0, 1].
using MetricFn = double (*)(const std::string& prediction, const std::string& ground_truth,
                            const std::vector<std::string>& all_classes);

double qa_f1_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double qa_f1_zh_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double rouge_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double rouge_zh_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double classification_score(const std::string& prediction, const std::string& ground_truth,
                            const std::vector<std::string>& all_classes);
double retrieval_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double retrieval_zh_score(const std::string& prediction, const std::string& ground_truth,
                          const std::vector<std::string>&);
double count_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double code_sim_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);

/// metric(prediction, every gold answer) → score in [0, 1], for metrics that judge the answers together.
using AnswerListMetricFn = double (*)(const std::string& prediction, const std::vector<std::string>& answers);

double ruler_any_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&);
double ruler_all_score(const std::string& prediction, const std::vector<std::string>& answers);

struct MetricInfo {
  const char* name;
  MetricFn fn;  ///< scored against each answer, the scorer keeps the max (null when whole_list is set)
  /// Set for metrics that need all answers at once (RULER's string_match_all: the share of answers found);
  /// the scorer calls it once per sample instead of taking a max over fn.
  AnswerListMetricFn whole_list = nullptr;
};

/// The registry: one line per metric.
inline constexpr MetricInfo kMetrics[] = {
    {"qa_f1", &qa_f1_score},
    {"qa_f1_zh", &qa_f1_zh_score},
    {"rouge", &rouge_score},
    {"rouge_zh", &rouge_zh_score},
    {"classification", &classification_score},
    {"retrieval", &retrieval_score},
    {"retrieval_zh", &retrieval_zh_score},
    {"count", &count_score},
    {"code_sim", &code_sim_score},
    {"ruler_any", &ruler_any_score},
    {"ruler_all", nullptr, &ruler_all_score},
};

/// The metric called `name`, or nullptr.
inline const MetricInfo* find_metric(std::string_view name) {
  for (const auto& m : kMetrics) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

// --- building blocks, exposed for the tests ----------------------------------------------------------------

/// metrics.normalize_answer: lower → drop string.punctuation → \b(a|an|the)\b → " " → " ".join(split()).
std::string normalize_answer(std::string_view text);
/// metrics.normalize_zh_answer: lower → drop ASCII and Chinese punctuation → "".join(split()).
std::string normalize_zh_answer(std::string_view text);
/// metrics.f1_score on token lists (Counter intersection).
double token_f1(const std::vector<std::u32string>& prediction, const std::vector<std::u32string>& ground_truth);

/// pltrdy rouge 1.0.1, Rouge().get_scores([hyp], [ref], avg=True)["rouge-l"]["f"] with the official `except:`
/// → 0.0. `max_backtrace_steps`: the LCS back-trace recurses once per step in Python, so a back-trace of at
/// least this many steps raises RecursionError (→ 0). With CPython 3.11's limit of 1000 frames and eval.py's
/// call depth: 991 for rouge_score, 990 for rouge_zh_score (one frame deeper).
double rouge_l_f(std::u32string_view hypothesis, std::u32string_view reference, int max_backtrace_steps);
inline constexpr int kRougeMaxSteps = 991;
inline constexpr int kRougeZhMaxSteps = 990;

/// difflib.SequenceMatcher(None, a, b) matching characters (sum of get_matching_blocks sizes), autojunk on.
std::size_t sequence_matcher_matches(std::u32string_view a, std::u32string_view b);
/// difflib.SequenceMatcher(None, a, b).ratio().
double sequence_matcher_ratio(std::u32string_view a, std::u32string_view b);
/// fuzzywuzzy.fuzz.ratio (pure-Python path): 100 if equal, 0 if either is empty, else
/// int(round(100 * ratio)) with round-half-even.
int fuzz_ratio(std::u32string_view a, std::u32string_view b);

}  // namespace kvbench::metrics
