// code_sim (lcc, repobench-p): fuzzywuzzy's fuzz.ratio on its pure-Python path, i.e. difflib.SequenceMatcher.
#include <array>
#include <cmath>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metrics/metric.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

// difflib.SequenceMatcher(isjunk=None, a, b, autojunk=True), reduced to what ratio() needs.
class SequenceMatcher {
 public:
  SequenceMatcher(std::u32string_view a, std::u32string_view b) : a_(a), b_(b) {
    // __chain_b: b2j maps each element of b to its (ascending) indices; with autojunk and len(b) >= 200,
    // elements occurring more than len(b) // 100 + 1 times are "popular" and dropped from b2j (they can
    // still be matched by the extension loops of find_longest_match, as in difflib).
    for (std::size_t j = 0; j < b.size(); ++j) b2j_[b[j]].push_back(static_cast<int>(j));
    if (b.size() >= 200) {
      const std::size_t ntest = b.size() / 100 + 1;
      for (auto it = b2j_.begin(); it != b2j_.end();) {
        it = it->second.size() > ntest ? b2j_.erase(it) : std::next(it);
      }
    }
    for (auto& row : rows_) {
      row.value.assign(b.size(), 0);
      row.stamp.assign(b.size(), 0);
    }
  }

  // Sum of the sizes of get_matching_blocks() (merging adjacent blocks does not change it).
  std::size_t matches() {
    std::size_t total = 0;
    std::vector<std::array<std::size_t, 4>> queue = {{0, a_.size(), 0, b_.size()}};
    while (!queue.empty()) {
      const auto [alo, ahi, blo, bhi] = queue.back();
      queue.pop_back();
      const auto [i, j, k] = find_longest_match(alo, ahi, blo, bhi);
      if (k) {
        total += k;
        if (alo < i && blo < j) queue.push_back({alo, i, blo, j});
        if (i + k < ahi && j + k < bhi) queue.push_back({i + k, ahi, j + k, bhi});
      }
    }
    return total;
  }

 private:
  struct Row {
    std::vector<std::size_t> value;
    std::vector<std::uint64_t> stamp;  // the generation that wrote value[j]; other entries are absent
  };

  std::array<std::size_t, 3> find_longest_match(std::size_t alo, std::size_t ahi, std::size_t blo, std::size_t bhi) {
    std::size_t besti = alo, bestj = blo, bestsize = 0;
    // j2len / newj2len of difflib as two rows stamped with a generation number, so that nothing is cleared.
    ++generation_;  // the (empty) j2len before the first row
    for (std::size_t i = alo; i < ahi; ++i) {
      const std::uint64_t prev_gen = generation_;
      const std::uint64_t gen = ++generation_;
      const Row& prev = rows_[prev_gen % 2];
      Row& cur = rows_[gen % 2];
      const auto it = b2j_.find(a_[i]);
      if (it == b2j_.end()) continue;
      for (const int jj : it->second) {
        const std::size_t j = static_cast<std::size_t>(jj);
        if (j < blo) continue;
        if (j >= bhi) break;
        const std::size_t k = (j > 0 && prev.stamp[j - 1] == prev_gen ? prev.value[j - 1] : 0) + 1;
        cur.value[j] = k;
        cur.stamp[j] = gen;
        if (k > bestsize) {
          besti = i - k + 1;
          bestj = j - k + 1;
          bestsize = k;
        }
      }
    }
    // No junk (isjunk=None), so only the first pair of extension loops can move: they extend over equal
    // elements, popular ones included.
    while (besti > alo && bestj > blo && a_[besti - 1] == b_[bestj - 1]) {
      --besti;
      --bestj;
      ++bestsize;
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a_[besti + bestsize] == b_[bestj + bestsize]) {
      ++bestsize;
    }
    return {besti, bestj, bestsize};
  }

  std::u32string_view a_, b_;
  std::unordered_map<char32_t, std::vector<int>> b2j_;
  Row rows_[2];
  std::uint64_t generation_ = 0;
};

}  // namespace

std::size_t sequence_matcher_matches(std::u32string_view a, std::u32string_view b) {
  return SequenceMatcher(a, b).matches();
}

double sequence_matcher_ratio(std::u32string_view a, std::u32string_view b) {
  const std::size_t length = a.size() + b.size();
  if (length == 0) return 1.0;
  return 2.0 * static_cast<double>(sequence_matcher_matches(a, b)) / static_cast<double>(length);
}

int fuzz_ratio(std::u32string_view a, std::u32string_view b) {
  // Decorators in order: check_for_none, check_for_equivalence (equal → 100, so two empty strings give 100),
  // check_empty_string (→ 0); then utils.intr(100 * m.ratio()) = int(round(...)), round-half-even.
  if (a == b) return 100;
  if (a.empty() || b.empty()) return 0;
  return static_cast<int>(std::nearbyint(100 * sequence_matcher_ratio(a, b)));
}

double code_sim_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&) {
  // The first line of prediction.lstrip('\n').split('\n') with none of '`', '#', "//"; else "".
  std::size_t start = 0;
  while (start < prediction.size() && prediction[start] == '\n') ++start;
  std::string line;
  while (true) {
    const std::size_t end = prediction.find('\n', start);
    const std::string candidate = prediction.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (candidate.find('`') == std::string::npos && candidate.find('#') == std::string::npos &&
        candidate.find("//") == std::string::npos) {
      line = candidate;
      break;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return static_cast<double>(fuzz_ratio(py::decode(line), py::decode(ground_truth))) / 100;
}

}  // namespace kvbench::metrics
