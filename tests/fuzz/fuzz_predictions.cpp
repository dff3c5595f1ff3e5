// Prediction files for `kvbench score` (metrics/scorer.cpp): parsing, then scoring under one metric per kind.
#include "harness/common/error.h"
#include "metrics/scorer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte picks the subset, so that every metric sees the input.
  static const std::vector<std::string> subsets = kvbench::metrics::known_subsets();
  const std::string& subset = subsets[data[0] % subsets.size()];
  try {
    const auto file = kvbench::metrics::parse_prediction_jsonl(kvbench::fuzz::as_string(data + 1, size - 1), "fuzz.jsonl");
    const auto scores = kvbench::metrics::sample_scores(subset, file);
    (void)kvbench::metrics::subset_score(scores);
    (void)kvbench::metrics::subset_score_e(scores, file);
  } catch (const kvbench::Error&) {
  }
  return 0;
}
