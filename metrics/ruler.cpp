// RULER's string-match metrics (NVIDIA RULER, scripts/eval/synthetic/constants.py), for the synthetic tasks:
//   string_match_all  = sum(r.lower() in pred.lower() for r in refs) / len(refs)   → ruler_all (whole list)
//   string_match_part = max(r.lower() in pred.lower() for r in refs)               → ruler_any (per answer;
//                       the scorer's max over answers makes it "any")
// Python's str.lower() on code points, as in the original.
#include "metrics/metric.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

bool contains_ignoring_case(const py::Str& lowered_prediction, const std::string& reference) {
  return lowered_prediction.find(py::lower(py::decode(reference))) != py::Str::npos;
}

}  // namespace

double ruler_any_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&) {
  return contains_ignoring_case(py::lower(py::decode(prediction)), ground_truth) ? 1.0 : 0.0;
}

double ruler_all_score(const std::string& prediction, const std::vector<std::string>& answers) {
  if (answers.empty()) return 0.0;  // as every metric without answers (RULER would divide by zero)
  const py::Str pred = py::lower(py::decode(prediction));
  std::size_t found = 0;
  for (const std::string& answer : answers) found += contains_ignoring_case(pred, answer) ? 1 : 0;
  return static_cast<double>(found) / static_cast<double>(answers.size());
}

}  // namespace kvbench::metrics
