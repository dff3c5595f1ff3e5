// rouge / rouge_zh: pltrdy rouge 1.0.1, ROUGE-L summary level, the `f` value (see metric.h).
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "metrics/jieba.h"
#include "metrics/metric.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

using py::Str;

// The largest LCS table of one sentence pair (2 bytes a cell): a pair longer than this is an error, not a guess.
constexpr std::size_t kMaxRougeTableCells = std::size_t{1} << 26;

// Rouge._get_avg_scores: [" ".join(_.split()) for _ in text.split(".") if len(_) > 0]. The emptiness test
// comes before the whitespace folding, so a piece of only spaces survives as "".
std::vector<Str> sentences(std::u32string_view text) {
  std::vector<Str> out;
  for (const Str& piece : py::split_on(text, U'.')) {
    if (!piece.empty()) out.push_back(py::fold_whitespace(piece));
  }
  return out;
}

// _split_into_words on one sentence: sentence.split(" "), interned to ids.
std::vector<int> words(const Str& sentence, std::unordered_map<Str, int>& ids) {
  std::vector<int> out;
  for (const Str& w : py::split_on(sentence, U' ')) {
    out.push_back(ids.try_emplace(w, static_cast<int>(ids.size())).first->second);
  }
  return out;
}

}  // namespace

double rouge_l_f(std::u32string_view hypothesis, std::u32string_view reference, int max_backtrace_steps) {
  KV_CHECK(max_backtrace_steps > 0 && max_backtrace_steps < (1 << 16), "internal error: ROUGE-L step limit");
  const std::vector<Str> hyp = sentences(hypothesis);
  const std::vector<Str> ref = sentences(reference);
  if (hyp.empty() || ref.empty()) return 0.0;  // ValueError("Hypothesis is empty.") etc. → except: 0.0

  std::unordered_map<Str, int> ids;
  std::vector<std::vector<int>> hyp_words, ref_words;
  for (const Str& s : hyp) hyp_words.push_back(words(s, ids));
  for (const Str& s : ref) ref_words.push_back(words(s, ids));
  const std::size_t vocab = ids.size();

  // m, n: DISTINCT words (Ngrams with exclusive=True is a set).
  const auto distinct = [vocab](const std::vector<std::vector<int>>& sents) {
    std::vector<char> seen(vocab, 0);
    std::size_t count = 0;
    for (const auto& s : sents) {
      for (int w : s) {
        if (!seen[static_cast<std::size_t>(w)]) {
          seen[static_cast<std::size_t>(w)] = 1;
          ++count;
        }
      }
    }
    return count;
  };
  const std::size_t m = distinct(ref_words);
  const std::size_t n = distinct(hyp_words);

  // llcs: size of the union (a set of words) of the LCS words of every (reference, hypothesis) sentence pair.
  // The official code builds every pair's table. A pair matters only when it can add a word to the union (its
  // sentences share a word not in it yet) or fail (a back-trace takes at most |x| + |y| - 1 steps): any other
  // pair is skipped, which changes nothing and makes texts of thousands of sentences cost little more than their
  // pairs that share new words.
  std::vector<std::vector<int>> postings(vocab);  // word -> the hypothesis sentences holding it, ascending
  for (std::size_t j = 0; j < hyp_words.size(); ++j)
    for (int w : hyp_words[j])
      if (postings[static_cast<std::size_t>(w)].empty() || postings[static_cast<std::size_t>(w)].back() != static_cast<int>(j))
        postings[static_cast<std::size_t>(w)].push_back(static_cast<int>(j));
  std::vector<char> in_union(vocab, 0), relevant(hyp_words.size(), 0), in_x(vocab, 0);
  std::size_t llcs = 0;
  std::vector<std::uint16_t> table;  // LCS lengths stay below max_backtrace_steps (< 2^16): checked below
  for (const auto& x : ref_words) {
    check_interrupt();
    std::fill(relevant.begin(), relevant.end(), 0);
    for (int w : x) {
      if (in_union[static_cast<std::size_t>(w)] || in_x[static_cast<std::size_t>(w)]) continue;
      in_x[static_cast<std::size_t>(w)] = 1;
      for (int j : postings[static_cast<std::size_t>(w)]) relevant[static_cast<std::size_t>(j)] = 1;
    }
    for (int w : x) in_x[static_cast<std::size_t>(w)] = 0;
    for (std::size_t yj = 0; yj < hyp_words.size(); ++yj) {
      const auto& y = hyp_words[yj];
      // Every step lowers i or j (or both) and the back-trace stops when one reaches 0, so it takes at least
      // min(|x|, |y|) steps: past the limit the pair fails without building the table.
      if (std::min(x.size(), y.size()) >= static_cast<std::size_t>(max_backtrace_steps)) return 0.0;
      const bool may_fail = x.size() + y.size() > static_cast<std::size_t>(max_backtrace_steps);
      if (!relevant[yj] && !may_fail) continue;
      const std::size_t rows = x.size() + 1, cols = y.size() + 1;
      KV_CHECK(rows * cols <= kMaxRougeTableCells, "ROUGE-L: a sentence of ", std::max(x.size(), y.size()),
               " words (text between two '.') is too long to score exactly (at most ", kMaxRougeTableCells / 1000,
               " thousand words x words per sentence pair)");
      table.assign(rows * cols, 0);
      for (std::size_t i = 1; i < rows; ++i) {
        for (std::size_t j = 1; j < cols; ++j) {
          table[i * cols + j] = x[i - 1] == y[j - 1]
                                    ? static_cast<std::uint16_t>(table[(i - 1) * cols + j - 1] + 1)
                                    : std::max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
        }
      }
      // _recon: diagonal on equal words, else up if table[i-1][j] > table[i][j-1], else left. Python recurses
      // once per step; too deep a recursion raises RecursionError, which the official `except:` turns into 0.
      std::size_t i = x.size(), j = y.size();
      long steps = 0;
      while (i > 0 && j > 0) {
        if (++steps >= max_backtrace_steps) return 0.0;
        if (x[i - 1] == y[j - 1]) {
          const int w = x[i - 1];
          if (!in_union[static_cast<std::size_t>(w)]) {
            in_union[static_cast<std::size_t>(w)] = 1;
            ++llcs;
          }
          --i;
          --j;
        } else if (table[(i - 1) * cols + j] > table[i * cols + j - 1]) {
          --i;
        } else {
          --j;
        }
      }
    }
  }
  const double r_lcs = static_cast<double>(llcs) / static_cast<double>(m);
  const double p_lcs = static_cast<double>(llcs) / static_cast<double>(n);
  return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8));
}

double rouge_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&) {
  return rouge_l_f(py::decode(prediction), py::decode(ground_truth), kRougeMaxSteps);
}

double rouge_zh_score(const std::string& prediction, const std::string& ground_truth,
                      const std::vector<std::string>&) {
  const Jieba& jieba = Jieba::instance();
  const auto joined = [&](const std::string& text) {
    Str out;
    bool first = true;
    for (const auto& t : jieba.cut(py::decode(text))) {
      if (!first) out.push_back(U' ');
      out += t;
      first = false;
    }
    return out;
  };
  return rouge_l_f(joined(prediction), joined(ground_truth), kRougeZhMaxSteps);
}

}  // namespace kvbench::metrics
