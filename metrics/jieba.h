#pragma once
// Chinese word segmentation exactly as jieba 0.42.1's `jieba.cut(text, cut_all=False, HMM=True)`, which the
// official LongBench scorer uses for qa_f1_zh and rouge_zh. Our own C++ of jieba's algorithm:
//   1. split the text into runs of [\u4E00-\u9FD5a-zA-Z0-9+#&._%-] (re_han_default); every other character is
//      its own token, except "\r\n" which stays one token (re_skip_default);
//   2. on each run: the prefix-dictionary DAG, the max-log-probability route (ties: the longer word), and
//      runs of single characters that are not a dictionary word go to the HMM (finalseg): Viterbi over
//      B/M/E/S on Han runs, [a-zA-Z0-9]+(\.\d+)?%? pieces kept whole.
// The data are jieba's own files, read at run time: dict.txt and finalseg/prob_{start,trans,emit}.py (Python
// dict literals, parsed here). The directory is $KVBENCH_JIEBA_DIR, else Debian's python3-jieba location.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvbench::metrics {

/// $KVBENCH_JIEBA_DIR if set and non-empty, else /usr/lib/python3/dist-packages/jieba.
std::string jieba_data_dir();

class Jieba {
 public:
  /// Loads dict.txt and the HMM tables from `dir`; throws kvbench::Error naming the file on any problem.
  explicit Jieba(const std::string& dir);

  /// The process-wide instance for jieba_data_dir(), loaded on first use (thread-safe).
  static const Jieba& instance();

  /// jieba.cut(text, cut_all=False, HMM=True), on code points.
  std::vector<std::u32string> cut(std::u32string_view text) const;
  /// The same on UTF-8.
  std::vector<std::string> cut(std::string_view utf8) const;

  /// FREQ.get(word): the dictionary frequency; 0 for prefixes of words; -1 when absent.
  std::int64_t frequency(std::u32string_view word) const;
  std::int64_t total() const { return total_; }
  std::size_t dictionary_entries() const { return freq_.size(); }

 private:
  static constexpr int kStates = 4;  // B, E, M, S (alphabetical: the order Python's tuple max uses for ties)

  std::int32_t child(std::int32_t node, char32_t c) const;
  void load_dictionary(const std::string& path);
  void load_hmm(const std::string& dir);
  double emit(int state, char32_t c) const;
  void cut_dag(std::u32string_view block, std::vector<std::u32string>& out) const;
  void cut_hmm(std::u32string_view text, std::vector<std::u32string>& out) const;
  void viterbi_cut(std::u32string_view han, std::vector<std::u32string>& out) const;

  // Prefix dictionary as a trie: node 0 is the root; a node exists iff its string is in jieba's FREQ.
  std::unordered_map<std::uint64_t, std::int32_t> children_;
  std::vector<std::int64_t> freq_;
  std::int64_t total_ = 0;
  double log_total_ = 0;

  std::array<double, kStates> start_{};
  std::array<std::array<double, kStates>, kStates> trans_{};  // trans_[from][to]
  std::array<bool, kStates * kStates> has_trans_{};
  std::array<std::unordered_map<char32_t, double>, kStates> emit_;
};

}  // namespace kvbench::metrics
