// classification (trec, lsht): substring matches of the class names, with the official list-mutation quirk.
#include "metrics/metric.h"

#include <cstdint>

namespace kvbench::metrics {

double classification_score(const std::string& prediction, const std::string& ground_truth,
                            const std::vector<std::string>& all_classes) {
  // Substring tests on valid UTF-8 bytes agree with Python's str `in`.
  std::vector<std::string> matches;
  for (const std::string& name : all_classes) {
    if (prediction.find(name) != std::string::npos) matches.push_back(name);
  }
  // `for match_term in em_match_list: ... em_match_list.remove(match_term)`: Python's list iterator walks by
  // index, so removing an element shifts the next one into the current slot and the loop skips it. remove()
  // deletes the FIRST equal element, which may sit before the current one when all_classes repeats a name.
  for (std::size_t index = 0; index < matches.size(); ++index) {
    const std::string term = matches[index];
    if (ground_truth.find(term) != std::string::npos && term != ground_truth) {
      for (auto it = matches.begin(); it != matches.end(); ++it) {
        if (*it == term) {
          matches.erase(it);
          break;
        }
      }
    }
  }
  // `if em_match_list != 0` is always true, so the difflib fallback of the official code never runs.
  for (const std::string& m : matches) {
    if (m == ground_truth) return 1.0 / static_cast<double>(matches.size());
  }
  return 0.0;
}

}  // namespace kvbench::metrics
