// retrieval, retrieval_zh and count: the share of the numbers in the prediction that equal the gold one.
#include "harness/common/error.h"

#include <cstdint>
#include "metrics/metric.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

using py::Str;

// right / len(re.findall(r"\d+", prediction)), 0.0 without numbers. `\d` is Unicode (category Nd) and the
// comparison is between strings, so "０７" (fullwidth) is a number but never equals "7".
double share_equal(const std::string& prediction, const Str& gold) {
  const std::vector<Str> numbers = py::find_digit_runs(py::decode(prediction));
  if (numbers.empty()) return 0.0;
  std::size_t right = 0;
  for (const Str& number : numbers) right += number == gold;
  return static_cast<double>(right) / static_cast<double>(numbers.size());
}

// re.findall(prefix + r"(\d+)", answer)[0]; the official code raises IndexError when there is none.
Str gold_id(const std::string& answer, const Str& prefix, const char* metric) {
  const Str text = py::decode(answer);
  for (std::size_t p = text.find(prefix); p != Str::npos; p = text.find(prefix, p + 1)) {
    std::size_t q = p + prefix.size();
    while (q < text.size() && py::is_re_digit(text[q])) ++q;
    if (q > p + prefix.size()) return text.substr(p + prefix.size(), q - p - prefix.size());
  }
  fail(metric, ": the gold answer \"", answer, "\" has no \"", py::encode(prefix),
       "<number>\" (the official scorer fails here with IndexError)");
}

}  // namespace

double retrieval_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&) {
  return share_equal(prediction, gold_id(ground_truth, U"Paragraph ", "retrieval"));
}

double retrieval_zh_score(const std::string& prediction, const std::string& ground_truth,
                          const std::vector<std::string>&) {
  return share_equal(prediction, gold_id(ground_truth, U"段落", "retrieval_zh"));
}

double count_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&) {
  return share_equal(prediction, py::decode(ground_truth));
}

}  // namespace kvbench::metrics
