// qa_f1 and qa_f1_zh: token-multiset F1 after the official normalizations.
#include <unordered_map>

#include <cstdint>
#include <unordered_set>

#include "metrics/jieba.h"
#include "metrics/metric.h"
#include "metrics/text.h"

namespace kvbench::metrics {
namespace {

using py::Str;

// \b(a|an|the)\b → " ", with Python re's Unicode word characters; alternatives tried in order.
Str remove_articles(const Str& text) {
  static const Str kArticles[] = {U"a", U"an", U"the"};
  Str out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    bool replaced = false;
    if (i == 0 || !py::is_re_word(text[i - 1])) {
      for (const Str& art : kArticles) {
        const std::size_t e = i + art.size();
        if (e <= n && text.compare(i, art.size(), art) == 0 && (e == n || !py::is_re_word(text[e]))) {
          out.push_back(U' ');
          i = e;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

Str normalize_answer_u32(const Str& s) {
  Str lowered = py::lower(s);
  Str no_punct;
  no_punct.reserve(lowered.size());
  for (char32_t c : lowered) {
    if (!py::is_ascii_punctuation(c)) no_punct.push_back(c);
  }
  return py::fold_whitespace(remove_articles(no_punct));
}

// string.punctuation + the cn_punctuation string of metrics.normalize_zh_answer (note: it has 》 but not 《).
const std::unordered_set<char32_t>& zh_punctuation() {
  static const std::unordered_set<char32_t> set = [] {
    std::unordered_set<char32_t> s;
    const Str cn = py::decode(
        u8"！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.");
    s.insert(cn.begin(), cn.end());
    for (char32_t c = 0x21; c < 0x7F; ++c) {
      if (py::is_ascii_punctuation(c)) s.insert(c);
    }
    return s;
  }();
  return set;
}

Str normalize_zh_answer_u32(const Str& s) {
  const auto& punct = zh_punctuation();
  Str out;
  for (char32_t c : py::lower(s)) {
    if (punct.count(c) == 0 && !py::isspace(c)) out.push_back(c);
  }
  return out;
}

}  // namespace

std::string normalize_answer(std::string_view text) { return py::encode(normalize_answer_u32(py::decode(text))); }

std::string normalize_zh_answer(std::string_view text) {
  return py::encode(normalize_zh_answer_u32(py::decode(text)));
}

double token_f1(const std::vector<std::u32string>& prediction, const std::vector<std::u32string>& ground_truth) {
  std::unordered_map<std::u32string, long> counts;
  for (const auto& t : ground_truth) ++counts[t];
  long num_same = 0;
  for (const auto& t : prediction) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++num_same;
    }
  }
  if (num_same == 0) return 0;
  const double precision = 1.0 * static_cast<double>(num_same) / static_cast<double>(prediction.size());
  const double recall = 1.0 * static_cast<double>(num_same) / static_cast<double>(ground_truth.size());
  return (2 * precision * recall) / (precision + recall);
}

double qa_f1_score(const std::string& prediction, const std::string& ground_truth, const std::vector<std::string>&) {
  return token_f1(py::split(normalize_answer_u32(py::decode(prediction))),
                  py::split(normalize_answer_u32(py::decode(ground_truth))));
}

double qa_f1_zh_score(const std::string& prediction, const std::string& ground_truth,
                      const std::vector<std::string>&) {
  const Jieba& jieba = Jieba::instance();
  const auto tokens = [&](const std::string& text) {
    std::vector<std::u32string> out;
    for (const auto& t : jieba.cut(py::decode(text))) {
      Str norm = normalize_zh_answer_u32(t);
      if (!norm.empty()) out.push_back(std::move(norm));
    }
    return out;
  };
  return token_f1(tokens(prediction), tokens(ground_truth));
}

}  // namespace kvbench::metrics
