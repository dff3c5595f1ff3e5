// LongBench metrics and `kvbench score`: the quirks of the official scorer, each with a hand-derived
// expectation; exact agreement with the OFFICIAL scorer's own results on the golden set (../shared) and on the
// prediction files of tests/data/metrics (their expected/ was written by running THUDM/LongBench's eval.py and
// metrics.py, see tests/data/metrics/README.md); CLI behaviour and errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "metrics/jieba.h"
#include "metrics/metric.h"
#include "metrics/scorer.h"
#include "metrics/text.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using namespace metrics;
using test::run_kvbench;
using test::TempDir;

const std::vector<std::string> kNoClasses;

std::string fixture_dir() { return std::string(KVBENCH_SOURCE_DIR) + "/tests/data/metrics"; }

bool jieba_available() { return paths::is_regular_file(paths::join(jieba_data_dir(), "dict.txt")); }

#define SKIP_WITHOUT_JIEBA()                                                                             \
  do {                                                                                                   \
    if (!jieba_available())                                                                              \
      GTEST_SKIP() << "jieba data not found in " << jieba_data_dir()                                     \
                   << " (install Debian's python3-jieba or set KVBENCH_JIEBA_DIR)";                      \
  } while (0)

std::u32string U(const std::string& s) { return py::decode(s); }

// f of pltrdy rouge from its counts, with the library's own operation order.
double rouge_f(double llcs, double m, double n) {
  const double r = llcs / m, p = llcs / n;
  return 2.0 * ((p * r) / (p + r + 1e-8));
}

std::string words(int count, int first = 0) {
  std::string s;
  for (int k = first; k < first + count; ++k) s += (s.empty() ? "w" : " w") + std::to_string(k);
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Python str helpers
// ---------------------------------------------------------------------------------------------------------------

TEST(MetricText, PythonLowerSplitAndRegexClasses) {
  // str.lower(): U+0130 has a two-code-point lowercase (SpecialCasing.txt); capital sigma becomes final ς at
  // the end of a word (CPython's Final_Sigma rule) and σ elsewhere.
  EXPECT_EQ(py::encode(py::lower(U("İ"))), "i\u0307");
  EXPECT_EQ(py::encode(py::lower(U("ΣΑΣ ΟΔΟΣ Σ"))), "σας οδος σ");  // a lone Σ has no cased letter before it
  EXPECT_EQ(py::encode(py::lower(U("ÉCOLE ǅ"))), "école ǆ");
  // str.split(): Unicode whitespace (U+3000, U+00A0, U+0085, U+2028), never U+200B (a format character).
  const auto parts = py::split(U("a\u3000b\u00a0c\u0085d\u2028e\u200bf"));
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(py::encode(parts[4]), "e\u200bf");
  // re's \w on str: letters and numbers of any script and '_', but not combining marks; \d: category Nd only
  // (superscript two is No).
  EXPECT_TRUE(py::is_re_word(U'é'));
  EXPECT_TRUE(py::is_re_word(U'_'));
  EXPECT_TRUE(py::is_re_word(U'中'));
  EXPECT_FALSE(py::is_re_word(0x0301));
  EXPECT_TRUE(py::is_re_digit(U'٣'));
  EXPECT_TRUE(py::is_re_digit(U'１'));
  EXPECT_FALSE(py::is_re_digit(U'²'));
  EXPECT_EQ(py::first_line("\n\n\nfirst\nsecond"), "first");
  EXPECT_EQ(py::first_line("\r\nfirst"), "\r");  // lstrip('\n') leaves the '\r'
}

TEST(MetricText, AgreesWithCPythonOnEveryAssignedCodePoint) {
  // unicode_tables.json holds, for every code point CPython 3.11's unicodedata (Unicode 14) assigns, the
  // results of str.isspace, re's \w and \d, str.lower and two Final_Sigma probes (X + "Σ" → ς iff X is
  // Cased and not Case_Ignorable; "A" + X + "Σ" → ς iff X is Cased or Case_Ignorable), as recorded by
  // make_unicode_tables.py. Code points first assigned later (utf8proc knows Unicode 15) are not compared.
  const auto t = [] {
    std::ifstream in(fixture_dir() + "/unicode_tables.json");
    return nlohmann::json::parse(in);
  }();
  const auto member = [&](const char* key) {
    std::vector<char> bits(0x110000, 0);
    for (const auto& r : t[key]) {
      for (std::uint32_t c = r[0].get<std::uint32_t>(); c <= r[1].get<std::uint32_t>(); ++c) bits[c] = 1;
    }
    return bits;
  };
  const auto assigned = member("assigned"), space = member("isspace"), word = member("re_word"),
             digit = member("re_digit"), after_x = member("sigma_final_after_x"),
             after_a_x = member("sigma_final_after_a_x");
  std::vector<std::u32string> lowered(0x110000);
  for (const auto& e : t["lower"]) {
    std::u32string l;
    for (const auto& c : e[1]) l.push_back(c.get<char32_t>());
    lowered[e[0].get<std::size_t>()] = l;
  }
  std::size_t checked = 0, mismatches = 0;
  for (char32_t c = 0; c < 0x110000; ++c) {
    if (!assigned[c]) continue;
    ++checked;
    const std::u32string one(1, c);
    const std::u32string expected_lower = lowered[c].empty() ? one : lowered[c];
    const bool ok = py::isspace(c) == static_cast<bool>(space[c]) && py::is_re_word(c) == static_cast<bool>(word[c]) &&
                    py::is_re_digit(c) == static_cast<bool>(digit[c]) &&
                    (py::is_cased(c) && !py::is_case_ignorable(c)) == static_cast<bool>(after_x[c]) &&
                    (py::is_cased(c) || py::is_case_ignorable(c)) == static_cast<bool>(after_a_x[c]) &&
                    py::lower(one) == expected_lower;
    if (!ok && ++mismatches <= 10) ADD_FAILURE() << "code point U+" << std::hex << static_cast<std::uint32_t>(c);
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(checked, 280000u);
}

TEST(MetricText, PythonAndNumpyRounding) {
  // 2.675 is 2.67499999999999982236431605997495353221893310546875 in binary: Python's round gives 2.67; NumPy
  // computes rint(2.675 * 100) / 100 and 2.675 * 100 rounds up to exactly 267.5 → rint → 268 → 2.68.
  EXPECT_EQ(py::round(2.675, 2), 2.67);
  EXPECT_EQ(py::numpy_round(2.675, 2), 2.68);
  // 0.125 is exact in binary: a true tie, half-to-even → 0.12 (both ways).
  EXPECT_EQ(py::round(0.125, 2), 0.12);
  EXPECT_EQ(py::numpy_round(0.125, 2), 0.12);
  EXPECT_EQ(py::round(64.5, 2), 64.5);
  // repr(float), as json.dumps prints scores.
  EXPECT_EQ(py::float_repr(7.0), "7.0");
  EXPECT_EQ(py::float_repr(18.99), "18.99");
  EXPECT_EQ(py::float_repr(0.0), "0.0");
  EXPECT_EQ(py::float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(py::float_repr(1e-05), "1e-05");
  EXPECT_EQ(py::float_repr(0.0001), "0.0001");
  EXPECT_EQ(py::float_repr(1e16), "1e+16");
  EXPECT_EQ(py::float_repr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(py::float_repr(0.999999995), "0.999999995");
}

TEST(MetricText, NumpyPairwiseMean) {
  // [1e16, 1 x 8]: left to right every +1 is lost (1e16 + 1 is a tie between 1e16 and 1e16 + 2, to even →
  // 1e16), so the plain sum is 1e16. NumPy (n = 9 <= 128) keeps 8 partial sums r[k] = a[k], combines them as
  // ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) = (1e16 + 2) + 4 = 1e16 + 6, then adds a[8]: 1e16 + 7 → tie → 1e16 + 8.
  std::vector<double> v = {1e16, 1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(py::numpy_mean(v), (1e16 + 8) / 9);
  double plain = 0;
  for (double x : v) plain += x;
  EXPECT_NE(py::numpy_mean(v), plain / 9);
  EXPECT_TRUE(std::isnan(py::numpy_mean({})));
  EXPECT_EQ(py::numpy_mean({0.25, 0.5}), 0.375);
}

// ---------------------------------------------------------------------------------------------------------------
// qa_f1 / qa_f1_zh
// ---------------------------------------------------------------------------------------------------------------

TEST(MetricQaF1, ArticlesPunctuationAndUnicodeCase) {
  // lower → drop ASCII punctuation → \b(a|an|the)\b → " " → join on whitespace.
  EXPECT_EQ(normalize_answer("The Answer!"), "answer");
  EXPECT_EQ(normalize_answer("an apple a day"), "apple day");
  // \b needs a non-word character: "theater" keeps its "the", digits are word characters ("the2", "a1" stay).
  // '_' is \w too but string.punctuation deletes it first: "the_a" → "thea".
  EXPECT_EQ(normalize_answer("theater the2 a1 the_a a"), "theater the2 a1 thea");
  // "éa": é is a word character for Python's re, so the "a" after it is not an article.
  EXPECT_EQ(normalize_answer("Éa the"), "éa");
  // Punctuation is deleted before articles are matched: "the-a" → "thea".
  EXPECT_EQ(normalize_answer("the-a THE.cat"), "thea thecat");
  // « » are not in string.punctuation, and they are not word characters: the article between them goes.
  EXPECT_EQ(normalize_answer("«the» cat"), "« » cat");
  EXPECT_EQ(normalize_answer("a\u3000b\u00a0c"), "b c");  // 'a' alone is an article; U+3000/U+00A0 split

  // F1 of token multisets: pred [answer], gold [answer] → 1.
  EXPECT_EQ(qa_f1_score("The Answer!", "answer", kNoClasses), 1.0);
  // pred "cat cat dog" vs gold "cat": common 1; p = 1/3, r = 1 → f1 = (2 * 1/3 * 1) / (1/3 + 1) = 0.5.
  EXPECT_DOUBLE_EQ(qa_f1_score("cat cat dog", "the cat", kNoClasses), 0.5);
  // Final sigma: "ΣΑΣ ΟΔΟΣ" lowers to "σας οδος", equal to the gold → 1.
  EXPECT_EQ(qa_f1_score("ΣΑΣ ΟΔΟΣ", "σας οδος", kNoClasses), 1.0);
  EXPECT_EQ(qa_f1_score("İstanbul", "i\u0307stanbul", kNoClasses), 1.0);
  EXPECT_EQ(qa_f1_score("", "x", kNoClasses), 0.0);
  EXPECT_EQ(qa_f1_score("the", "a", kNoClasses), 0.0);  // both normalize to nothing: no common token → 0
}

TEST(MetricQaF1, ChineseNormalizationAndTokens) {
  SKIP_WITHOUT_JIEBA();
  // normalize_zh_answer: lower, drop ASCII + the listed Chinese punctuation, drop whitespace. The list has 》
  // but not 《 (a quirk of metrics.py).
  EXPECT_EQ(normalize_zh_answer("《热诚》 传说。ABC"), "《热诚传说abc");
  // jieba: 厦门大学 is one dictionary word, 。 is punctuation → tokens [厦门大学] on both sides → 1.
  EXPECT_EQ(qa_f1_zh_score("厦门大学。", "厦门大学", kNoClasses), 1.0);
  // Tokens made only of punctuation/whitespace are dropped: "  " has no tokens → 0.
  EXPECT_EQ(qa_f1_zh_score("  ", "答案", kNoClasses), 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// rouge / rouge_zh
// ---------------------------------------------------------------------------------------------------------------

TEST(MetricRouge, DistinctWordsAndEmptyPieces) {
  // m and n count DISTINCT words: "the the the cat" has n = 2, "the cat the cat" m = 2; the LCS words
  // {the, cat} → llcs = 2 → p = r = 1 → f = 2 * (1 / (2 + 1e-8)).
  EXPECT_EQ(rouge_score("the the the cat", "the cat the cat", kNoClasses), rouge_f(2, 2, 2));
  EXPECT_EQ(rouge_score("the the the cat", "the cat the cat", kNoClasses), 0.999999995);
  // "a. . b" splits on "." into "a", " ", " b": the " " piece is kept (its length is tested BEFORE whitespace
  // folding) and folds to "", a word of its own → hypothesis words {a, "", b}: n = 3; reference "a b": m = 2;
  // LCS words {a} ∪ {} ∪ {b} → llcs = 2.
  EXPECT_EQ(rouge_score("a. . b", "a b", kNoClasses), rouge_f(2, 2, 3));
  // "..." gives only empty pieces → no sentence → ValueError → 0; same for an empty prediction or reference.
  EXPECT_EQ(rouge_score("...", "a b", kNoClasses), 0.0);
  EXPECT_EQ(rouge_score("", "a", kNoClasses), 0.0);
  EXPECT_EQ(rouge_score("a b", "", kNoClasses), 0.0);
}

TEST(MetricRouge, BacktraceTieGoesLeft) {
  // Reference "a b" against hypothesis sentence "b a": table[1][2] = table[2][1] = 1, and the back-trace goes
  // up only when table[i-1][j] > table[i][j-1], so it goes left and recovers {b} (not {a}). With the second
  // hypothesis sentence "b" the union stays {b}: llcs = 1, m = 2, n = 2. (Going up on ties would give {a, b}.)
  EXPECT_EQ(rouge_score("b a. b", "a b", kNoClasses), rouge_f(1, 2, 2));
}

TEST(MetricRouge, RecursionLimitOfTheBacktrace) {
  // Hypothesis w0 ... w{S-1} against reference "w0": the back-trace from (1, S) goes left S-1 times and takes
  // one diagonal step: S steps, i.e. S+1 nested Python calls of _recon. eval.py → rouge_score → ... → _recon
  // leaves room for 991 of them under CPython's limit of 1000 frames (measured with the official code:
  // 990 steps score, 991 raise RecursionError → except → 0).
  EXPECT_EQ(rouge_score(words(990), "w0", kNoClasses), rouge_f(1, 1, 990));
  EXPECT_EQ(rouge_score(words(991), "w0", kNoClasses), 0.0);
  // One failing sentence pair fails the whole score, even when other pairs are short.
  EXPECT_EQ(rouge_score("w0. " + words(1200), "w0", kNoClasses), 0.0);
  // The limit counts steps, not words: 1500 words whose back-trace is short (the match is at the end).
  EXPECT_EQ(rouge_score(words(1500), "w1499", kNoClasses), rouge_f(1, 1, 1500));
  // rouge_zh_score calls rouge_score: one frame deeper, so 990 steps already fail there.
  EXPECT_EQ(rouge_l_f(U(words(989)), U("w0"), kRougeZhMaxSteps), rouge_f(1, 1, 989));
  EXPECT_EQ(rouge_l_f(U(words(990)), U("w0"), kRougeZhMaxSteps), 0.0);
}

TEST(MetricRouge, ChineseThroughJieba) {
  SKIP_WITHOUT_JIEBA();
  // "甲 的 一 是 ..." (S single characters separated by spaces) → jieba yields each character and each space;
  // joined by spaces and folded that is S words. Against the reference "甲" the back-trace takes S steps
  // (甲 only at position 0), and rouge_zh fails from 990 steps on (one frame deeper than rouge).
  const std::u32string han = U("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可");  // 36 distinct
  const auto text = [&](int s) {
    std::u32string t = U("甲");
    for (int k = 1; k < s; ++k) {
      t += U' ';
      t += han[static_cast<std::size_t>(k) % han.size()];
    }
    return py::encode(t);
  };
  EXPECT_EQ(rouge_zh_score(text(989), "甲", kNoClasses), rouge_f(1, 1, 37));  // n = 36 + 甲
  EXPECT_EQ(rouge_zh_score(text(990), "甲", kNoClasses), 0.0);
  EXPECT_EQ(rouge_score(text(990), "甲", kNoClasses), rouge_f(1, 1, 37));  // plain rouge: still scored
}

// ---------------------------------------------------------------------------------------------------------------
// classification
// ---------------------------------------------------------------------------------------------------------------

TEST(MetricClassification, ListMutationSkipsTheNextMatch) {
  const std::vector<std::string> classes = {"loc", "location", "other location", "city"};
  // matches = [loc, location, other location]. Iterating: index 0 "loc" is a substring of the gold → removed;
  // the list shifts, index 1 is now "other location" ("location" was skipped) → equal to the gold, kept.
  // Final [location, other location] → gold found → 1/2. (Without the skip "location" would go too → 1.0.)
  EXPECT_EQ(classification_score("other location", "other location", classes), 0.5);
  // "city or other location": matches [loc, location, other location, city]; "loc" removed, "location"
  // skipped, "other location" kept, "city" kept → 3 left → 1/3.
  EXPECT_DOUBLE_EQ(classification_score("city or other location", "other location", classes), 1.0 / 3);
  // Gold not among the matches → 0. No match at all → 0 (the difflib fallback of metrics.py is dead code).
  EXPECT_EQ(classification_score("city", "location", classes), 0.0);
  EXPECT_EQ(classification_score("nothing", "city", classes), 0.0);
  // Duplicate names: remove() deletes the FIRST equal element. classes [date, other date, date]: matches
  // [date, other date, date]; index 0 "date" removed → [other date, date]; index 1 "date" removes the first
  // "date" (itself) → [other date] → 1/1.
  EXPECT_EQ(classification_score("other date", "other date", {"date", "other date", "date"}), 1.0);
}

// ---------------------------------------------------------------------------------------------------------------
// retrieval / count
// ---------------------------------------------------------------------------------------------------------------

TEST(MetricRetrieval, UnicodeDigitsAndShares) {
  EXPECT_EQ(retrieval_score("Paragraph 12", "Paragraph 12", kNoClasses), 1.0);
  // Fullwidth digits are \d (a number is found) but "１２" != "12" → 0/1.
  EXPECT_EQ(retrieval_score("Paragraph １２", "Paragraph 12", kNoClasses), 0.0);
  // Numbers 12, 3, 12 → 2 of 3 equal the id.
  EXPECT_DOUBLE_EQ(retrieval_score("Paragraph 12 and 3 and 12", "Paragraph 12", kNoClasses), 2.0 / 3);
  // Arabic-Indic digits on both sides compare equal as strings.
  EXPECT_EQ(retrieval_score("Paragraph ١٢", "Paragraph ١٢", kNoClasses), 1.0);
  EXPECT_EQ(retrieval_score("no number", "Paragraph 5", kNoClasses), 0.0);
  EXPECT_EQ(retrieval_score("012", "Paragraph 12", kNoClasses), 0.0);  // string comparison, "012" != "12"
  EXPECT_DOUBLE_EQ(retrieval_zh_score("答案是段落3和段落30", "段落3", kNoClasses), 0.5);
  // The official code takes re.findall(...)[0]: a gold answer without "Paragraph N" is an error.
  EXPECT_THROW(retrieval_score("1", "Section 1", kNoClasses), Error);
}

TEST(MetricCount, SharesOfTheGoldCount) {
  EXPECT_EQ(count_score("There are 5 paragraphs", "5", kNoClasses), 1.0);
  EXPECT_DOUBLE_EQ(count_score("5, 5 and 05", "5", kNoClasses), 2.0 / 3);
  EXPECT_EQ(count_score("", "3", kNoClasses), 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// code_sim
// ---------------------------------------------------------------------------------------------------------------

TEST(MetricCodeSim, RoundHalfEven) {
  // a, b of 8 characters each: ratio = 2M/16, so 100 * ratio = 12.5 M is an exact binary tie for odd M.
  EXPECT_EQ(fuzz_ratio(U("abcdefgh"), U("axxxxxxx")), 12);  // M = 1: 12.5 → 12
  EXPECT_EQ(fuzz_ratio(U("abcdefgh"), U("abcxxxxx")), 38);  // M = 3: 37.5 → 38
  EXPECT_EQ(fuzz_ratio(U("abcdefgh"), U("abcdexxx")), 62);  // M = 5: 62.5 → 62
  EXPECT_EQ(code_sim_score("abcdefgh", "abcdexxx", kNoClasses), 0.62);
}

TEST(MetricCodeSim, AutojunkOnLongAnswers) {
  // b = "b" + 198 "a" + "b" has 200 characters: autojunk applies and "a" (198 > 200 // 100 + 1 = 3 times) is
  // popular, so it is not indexed; "aaaaac" then has no indexed character in common with b → 0 matches → 0.
  const std::string b200 = "b" + std::string(198, 'a') + "b";
  EXPECT_EQ(fuzz_ratio(U("aaaaac"), U(b200)), 0);
  // With 199 characters there is no autojunk: "aaaaa" matches → 2 * 5 / 205 * 100 = 4.88 → 5.
  const std::string b199 = "b" + std::string(197, 'a') + "b";
  EXPECT_EQ(fuzz_ratio(U("aaaaac"), U(b199)), 5);
  // "ab" against b200: only "b" is indexed, at 0 and 199; find_longest_match keeps the first (j = 0), and
  // nothing precedes it to extend over → M = 1 → 2 * 1 / 202 * 100 = 0.99 → 1.
  EXPECT_EQ(fuzz_ratio(U("ab"), U(b200)), 1);
  // With b = "c" + 198 "a" + "b" the only indexed match is the final "b", and the extension loop absorbs the
  // popular "a" before it (difflib extends over non-junk equal elements) → M = 2 → 4 / 202 * 100 = 1.98 → 2.
  EXPECT_EQ(fuzz_ratio(U("ab"), U("c" + std::string(198, 'a') + "b")), 2);
  // The autojunk rule looks at b (the gold answer) only: swapped, nothing is popular → "aaaaa" matches → 5.
  EXPECT_EQ(fuzz_ratio(U(b200), U("aaaaac")), 5);
}

TEST(MetricCodeSim, FirstCodeLineAndEmptyStrings) {
  // Lines with `, # or // are skipped: "real line" is compared.
  EXPECT_EQ(code_sim_score("# comment\n// also\n```\nreal line", "real line", kNoClasses), 1.0);
  // Every line skipped → "" → 0 against a non-empty answer ...
  EXPECT_EQ(code_sim_score("# only comments", "x", kNoClasses), 0.0);
  // ... but 100 against an empty answer: fuzz.ratio checks equality before emptiness.
  EXPECT_EQ(code_sim_score("\n\n", "", kNoClasses), 1.0);
  EXPECT_EQ(code_sim_score("x = 1", "", kNoClasses), 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// jieba
// ---------------------------------------------------------------------------------------------------------------

std::string joined(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) out += (out.empty() ? "" : "/") + t;
  return out;
}

TEST(MetricJieba, PreciseModeWithHmm) {
  SKIP_WITHOUT_JIEBA();
  const Jieba& j = Jieba::instance();
  // The examples of jieba's README (precise mode): dictionary words by max-probability route ...
  EXPECT_EQ(joined(j.cut(std::string_view("我来到北京清华大学"))), "我/来到/北京/清华大学");
  // ... and 杭研, not in the dictionary, found by the HMM (Viterbi over B/M/E/S).
  EXPECT_EQ(joined(j.cut(std::string_view("他来到了网易杭研大厦"))), "他/来到/了/网易/杭研/大厦");
  // Outside [\u4E00-\u9FD5a-zA-Z0-9+#&._%-] every character is a token, "\r\n" stays whole.
  EXPECT_EQ(joined(j.cut(std::string_view("好，\r\n 吗"))), "好/，/\r\n/ /吗");
  // Buffered single characters that are not a word go to finalseg, which keeps [a-zA-Z0-9]+(\.\d+)?%? whole.
  EXPECT_EQ(joined(j.cut(std::string_view("增长3.14%"))), "增长/3.14%");
  EXPECT_GT(j.dictionary_entries(), 300000u);
}

TEST(MetricJieba, MatchesJiebaOnRecordedTexts) {
  SKIP_WITHOUT_JIEBA();
  // expected/jieba_cut.jsonl: list(jieba.cut(text, cut_all=False)) of jieba 0.42.1 for the 450 texts of
  // inputs/jieba_texts.jsonl (mixed scripts, digits with '.' and '%', "\r\n", slices of real Chinese documents).
  std::ifstream texts(fixture_dir() + "/inputs/jieba_texts.jsonl"), cuts(fixture_dir() + "/expected/jieba_cut.jsonl");
  ASSERT_TRUE(texts && cuts);
  std::string text_line, cut_line;
  std::size_t n = 0;
  while (std::getline(texts, text_line) && std::getline(cuts, cut_line)) {
    const std::string text = nlohmann::json::parse(text_line)["text"].get<std::string>();
    const auto expected = nlohmann::json::parse(cut_line).get<std::vector<std::string>>();
    EXPECT_EQ(Jieba::instance().cut(std::string_view(text)), expected) << "text " << n + 1 << ": " << text;
    ++n;
  }
  EXPECT_EQ(n, 450u);
}

TEST(MetricJieba, MissingDataIsAClearError) {
  try {
    Jieba j("/nonexistent/jieba");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KVBENCH_JIEBA_DIR"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/jieba"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// scorer
// ---------------------------------------------------------------------------------------------------------------

PredictionFile file_of(const std::string& jsonl) { return parse_prediction_jsonl(jsonl, "test.jsonl"); }

TEST(ScoreSubset, FirstLineRuleMaxOverAnswersAndRounding) {
  // triviaqa: first line "Paris" (the leading newlines go) → 1 against "paris"; max over answers keeps 1.
  // narrativeqa has no first-line rule: "Paris is nice" vs "Paris" → f1 = 2 * (1/3 * 1) / (1/3 + 1) = 0.5.
  const auto f = file_of(
      "{\"pred\": \"\\n\\nParis\\nis nice\", \"answers\": [\"London\", \"paris\"], \"all_classes\": null}\n"
      "{\"pred\": \"x\", \"answers\": [], \"all_classes\": null}\n");
  EXPECT_EQ(sample_scores("triviaqa", f), (std::vector<double>{1.0, 0.0}));
  const auto g = file_of("{\"pred\": \"Paris is nice\", \"answers\": [\"Paris\"], \"all_classes\": null}");
  EXPECT_EQ(sample_scores("narrativeqa", g), (std::vector<double>{0.5}));
  // Subset: round(100 * total / n, 2). 100 * (1 + 0 + 0) / 3 = 33.333.. → 33.33; 2/3 → 66.67.
  EXPECT_EQ(subset_score({1.0, 0.0, 0.0}), 33.33);
  EXPECT_EQ(subset_score({1.0, 1.0, 0.0}), 66.67);
  // 100 * 0.02675 = 2.675 (binary: just below): Python's round → 2.67.
  EXPECT_EQ(subset_score({0.02675}), 2.67);
  EXPECT_THROW(subset_score({}), Error);
}

TEST(ScoreSubset, LongBenchEBuckets) {
  // Lengths 3999 | 4000, 7999 | 8000: the bucket edges. Bucket "0-4k" holds 0.02675 alone:
  // round(100 * np.mean) with NumPy's rounding → 2.68 (Python's round would give 2.67).
  const auto f = file_of(
      "{\"pred\": \"\", \"answers\": [], \"all_classes\": null, \"length\": 3999}\n"
      "{\"pred\": \"\", \"answers\": [], \"all_classes\": null, \"length\": 4000}\n"
      "{\"pred\": \"\", \"answers\": [], \"all_classes\": null, \"length\": 7999}\n"
      "{\"pred\": \"\", \"answers\": [], \"all_classes\": null, \"length\": 8000}\n");
  const BucketScores b = subset_score_e({0.02675, 1.0, 0.5, 0.25}, f);
  EXPECT_EQ(b.score[0], 2.68);
  EXPECT_EQ(b.score[1], 75.0);
  EXPECT_EQ(b.score[2], 25.0);
  EXPECT_EQ(b.count, (std::array<std::size_t, 3>{1, 2, 1}));
  const BucketScores empty = subset_score_e({1.0}, file_of("{\"pred\": \"\", \"answers\": [], \"all_classes\": null, \"length\": 1}"));
  EXPECT_TRUE(std::isnan(empty.score[1]));  // np.mean([]) → NaN, printed as null
  SubsetResult r;
  r.dataset = "qasper";
  r.n = 1;
  r.buckets = empty;
  EXPECT_EQ(subset_json(r, true), "{\"dataset\": \"qasper\", \"score\": {\"0-4k\": 100.0, \"4-8k\": null, \"8k+\": null}, \"n\": 1}");
  EXPECT_THROW(subset_score_e({1.0}, file_of("{\"pred\": \"\", \"answers\": [], \"all_classes\": null}")), Error);
}

TEST(ScoreSubset, LastRowAllClassesIsUsedForEveryRow) {
  // eval.py keeps the all_classes of the last row it read and passes it for every sample. Row 1 lists
  // "city" but the last row does not: row 1 is scored against ["location"] → no gold match → 0.
  const auto f = file_of(
      "{\"pred\": \"city\", \"answers\": [\"city\"], \"all_classes\": [\"city\", \"location\"]}\n"
      "{\"pred\": \"location\", \"answers\": [\"location\"], \"all_classes\": [\"location\"]}\n");
  EXPECT_EQ(sample_scores("trec", f), (std::vector<double>{0.0, 1.0}));
  const auto null_last = file_of("{\"pred\": \"city\", \"answers\": [\"city\"], \"all_classes\": null}");
  EXPECT_THROW(sample_scores("trec", null_last), Error);
}

TEST(ScoreJsonl, MalformedLinesNameFileLineAndField) {
  const auto expect_error = [](const std::string& jsonl, const std::string& needle) {
    try {
      parse_prediction_jsonl(jsonl, "preds.jsonl");
      ADD_FAILURE() << "no error for " << jsonl;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string ok = "{\"pred\": \"a\", \"answers\": [\"b\"], \"all_classes\": null}\n";
  expect_error(ok + "{\"pred\": \"a\", \"answers\": [\"b\"]\n", "preds.jsonl:2: invalid JSON");
  expect_error(ok + ok + "\n" + ok, "preds.jsonl:3: invalid JSON (empty line)");
  expect_error("{\"answers\": [\"b\"], \"all_classes\": null}", "preds.jsonl:1: missing field \"pred\"");
  expect_error("{\"pred\": 3, \"answers\": [\"b\"], \"all_classes\": null}", "field \"pred\" must be a string");
  expect_error("{\"pred\": \"a\", \"answers\": \"b\", \"all_classes\": null}", "field \"answers\" must be a list");
  expect_error("{\"pred\": \"a\", \"answers\": [1], \"all_classes\": null}", "field \"answers\" item 0");
  expect_error("{\"pred\": \"a\", \"answers\": [\"b\"]}", "missing field \"all_classes\"");
  expect_error("{\"pred\": \"a\", \"answers\": [\"b\"], \"all_classes\": [2]}", "field \"all_classes\" item 0");
  expect_error("{\"pred\": \"a\", \"answers\": [\"b\"], \"all_classes\": null, \"length\": \"9\"}",
               "field \"length\" must be a number");
  expect_error("[1]", "preds.jsonl:1: expected a JSON object");
  // A file ending in a newline has no extra empty line; CRLF line ends are accepted.
  EXPECT_EQ(parse_prediction_jsonl(ok + ok, "x").rows.size(), 2u);
  EXPECT_EQ(parse_prediction_jsonl("{\"pred\": \"a\", \"answers\": [], \"all_classes\": null}\r\n", "x").rows.size(), 1u);
}

TEST(ScoreJsonl, SubsetNamesFromFileNames) {
  EXPECT_EQ(dataset_from_filename("narrativeqa.jsonl"), "narrativeqa");
  EXPECT_EQ(dataset_from_filename("qasper_e.jsonl"), "qasper");
  EXPECT_EQ(dataset_from_filename("repobench-p.jsonl"), "repobench-p");
  EXPECT_STREQ(subset_metric("repobench-p"), "code_sim");
  EXPECT_STREQ(subset_metric("lsht"), "classification");
  EXPECT_EQ(subset_metric("nonsense"), nullptr);
  EXPECT_EQ(known_subsets().size(), 21u);
}

// ---------------------------------------------------------------------------------------------------------------
// Against the official scorer: golden set (../shared) and the recorded oracle fixtures
// ---------------------------------------------------------------------------------------------------------------

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  return nlohmann::json::parse(in);
}

std::vector<double> read_per_sample(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto row = nlohmann::json::parse(line);
    EXPECT_EQ(row["index"].get<std::size_t>(), out.size());
    out.push_back(row["score"].get<double>());
  }
  return out;
}

// Compares {subset: score} / {subset: {bucket: score}} exactly (doubles parsed from the official JSON).
void expect_same_scores(const nlohmann::json& ours, const nlohmann::json& official, const std::string& what) {
  ASSERT_TRUE(ours.is_object()) << what;
  EXPECT_EQ(ours.size(), official.size()) << what;
  for (const auto& [subset, value] : official.items()) {
    ASSERT_TRUE(ours.contains(subset)) << what << ": no " << subset;
    if (value.is_object()) {
      for (const auto& [bucket, v] : value.items()) {
        if (v.is_null()) {
          EXPECT_TRUE(ours[subset][bucket].is_null()) << what << " " << subset << " " << bucket;
        } else {
          EXPECT_EQ(ours[subset][bucket].get<double>(), v.get<double>()) << what << " " << subset << " " << bucket;
        }
      }
    } else {
      EXPECT_EQ(ours[subset].get<double>(), value.get<double>()) << what << " " << subset;
    }
  }
}

nlohmann::json results_json(const std::vector<SubsetResult>& results, bool e) {
  return nlohmann::json::parse(directory_json(results, e));
}

TEST(ScoreGolden, ReproducesExpectedScoresThroughLibraryAndCli) {
  const auto shared = test::shared_dir();
  if (!shared) GTEST_SKIP() << "../shared is absent: the golden predictions live there";
  SKIP_WITHOUT_JIEBA();
  const std::string dir = *shared + "/data/longbench-golden";
  const auto expected = read_json(dir + "/expected_scores.json");
  ASSERT_EQ(expected.size(), 12u);

  const auto results = score_directory(dir, false);
  ASSERT_EQ(results.size(), 12u);
  for (const auto& r : results) {
    ASSERT_TRUE(expected.contains(r.dataset)) << r.dataset;
    EXPECT_EQ(r.score, expected[r.dataset].get<double>()) << r.dataset;
  }

  const auto cli = run_kvbench("score --pred-dir " + dir);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  expect_same_scores(nlohmann::json::parse(cli.out), expected, "CLI --pred-dir golden");
  // The printed numbers are the official spellings (json.dumps of the rounded floats).
  for (const char* text : {"\"narrativeqa\": 18.99", "\"trec\": 64.5", "\"passage_retrieval_en\": 7.0",
                           "\"dureader\": 6.49", "\"multifieldqa_zh\": 11.85"}) {
    EXPECT_NE(cli.out.find(text), std::string::npos) << text << " in " << cli.out;
  }

  const auto one = run_kvbench("score --dataset lcc --pred " + dir + "/lcc.jsonl");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "{\"dataset\": \"lcc\", \"score\": 58.65, \"n\": 500}\n");
}

TEST(ScoreGolden, PerSampleAndLongBenchEMatchTheOfficialScorer) {
  const auto shared = test::shared_dir();
  if (!shared) GTEST_SKIP() << "../shared is absent: the golden predictions live there";
  SKIP_WITHOUT_JIEBA();
  const std::string dir = *shared + "/data/longbench-golden";
  const std::string expected = fixture_dir() + "/expected/golden";
  const auto results = score_directory(dir, false);
  for (const auto& r : results) {
    EXPECT_EQ(r.samples, read_per_sample(expected + "/" + r.dataset + ".jsonl")) << r.dataset;
  }
  expect_same_scores(results_json(score_directory(dir, true), true), read_json(expected + "/result_e.json"),
                     "golden --e");
  // --per-sample through the CLI: byte-identical to the official json.dumps lines.
  TempDir tmp;
  const auto r = run_kvbench("score --dataset dureader --pred " + dir + "/dureader.jsonl --per-sample " +
                             tmp.file("ps.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(tmp.file("ps.jsonl")), test::read_file(expected + "/dureader.jsonl"));
}

class ScoreOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(ScoreOracle, PerSampleSubsetAndBucketsMatchTheOfficialScorer) {
  SKIP_WITHOUT_JIEBA();
  const std::string set = GetParam();
  const std::string inputs = fixture_dir() + "/inputs/" + set;
  const std::string expected = fixture_dir() + "/expected/" + set;
  const auto results = score_directory(inputs, false);
  ASSERT_FALSE(results.empty());
  for (const auto& r : results) {
    const auto official = read_per_sample(expected + "/" + r.dataset + ".jsonl");
    ASSERT_EQ(r.samples.size(), official.size()) << r.dataset;
    for (std::size_t i = 0; i < official.size(); ++i) {
      EXPECT_EQ(r.samples[i], official[i]) << set << "/" << r.dataset << " row " << i + 1 << ": ours "
                                           << py::float_repr(r.samples[i]) << ", official "
                                           << py::float_repr(official[i]);
    }
  }
  expect_same_scores(results_json(results, false), read_json(expected + "/result.json"), set);
  expect_same_scores(results_json(score_directory(inputs, true), true), read_json(expected + "/result_e.json"),
                     set + " --e");
  // And through the CLI.
  const auto cli = run_kvbench("score --pred-dir " + inputs);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  expect_same_scores(nlohmann::json::parse(cli.out), read_json(expected + "/result.json"), set + " (CLI)");
  const auto cli_e = run_kvbench("score --pred-dir " + inputs + " --e");
  ASSERT_EQ(cli_e.exit_code, 0) << cli_e.err;
  expect_same_scores(nlohmann::json::parse(cli_e.out), read_json(expected + "/result_e.json"), set + " (CLI --e)");
}

INSTANTIATE_TEST_SUITE_P(ScoreFixtures, ScoreOracle, ::testing::Values("perturbed", "quirks"));

TEST(ScoreOracleCoverage, EveryMetricAndSubsetIsInTheFixtures) {
  // The perturbed set holds all 21 subsets of eval.py, hence every metric.
  for (const std::string& subset : known_subsets()) {
    EXPECT_TRUE(paths::is_regular_file(fixture_dir() + "/inputs/perturbed/" + subset + ".jsonl")) << subset;
    EXPECT_TRUE(paths::is_regular_file(fixture_dir() + "/expected/perturbed/" + subset + ".jsonl")) << subset;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CLI errors and speed
// ---------------------------------------------------------------------------------------------------------------

TEST(ScoreCli, ErrorsAreOneClearLine) {
  TempDir tmp;
  test::write_file(tmp.file("ok.jsonl"), "{\"pred\": \"yes\", \"answers\": [\"Yes.\"], \"all_classes\": null}\n");
  test::write_file(tmp.file("bad.jsonl"), "{\"pred\": \"a\", \"answers\": [\"a\"], \"all_classes\": null}\n{oops\n");
  test::expect_one_error(run_kvbench("score --dataset nonsense --pred " + tmp.file("ok.jsonl")),
                       "unknown LongBench dataset \"nonsense\"");
  test::expect_one_error(run_kvbench("score --dataset qasper --pred " + tmp.file("missing.jsonl")),
                       "missing.jsonl' does not exist");
  test::expect_one_error(run_kvbench("score --dataset qasper --pred " + tmp.file("bad.jsonl")),
                       "bad.jsonl:2: invalid JSON");
  test::expect_one_error(run_kvbench("score --pred-dir " + tmp.file("nodir")), "does not exist");
  // A directory with a file whose name is not a subset.
  test::expect_one_error(run_kvbench("score --pred-dir " + tmp.path()), "unknown LongBench dataset \"bad\"");
  // Usage errors are CLI11's (non-zero).
  EXPECT_NE(run_kvbench("score --pred " + tmp.file("ok.jsonl")).exit_code, 0);
  EXPECT_NE(run_kvbench("score --pred-dir " + tmp.path() + " --dataset qasper --pred x").exit_code, 0);

  // Chinese subsets need jieba's data: a missing directory is named, with the variable that sets it. English
  // subsets never load it.
  TempDir zh;
  test::write_file(zh.file("dureader.jsonl"), "{\"pred\": \"北京\", \"answers\": [\"北京\"], \"all_classes\": null}\n");
  const char* old_env = std::getenv("KVBENCH_JIEBA_DIR");
  const std::string saved = old_env ? old_env : "";
  ::setenv("KVBENCH_JIEBA_DIR", "/nonexistent/jieba-data", 1);
  const auto no_jieba = run_kvbench("score --pred-dir " + zh.path());
  const auto english = run_kvbench("score --dataset qasper --pred " + tmp.file("ok.jsonl"));
  if (old_env) {
    ::setenv("KVBENCH_JIEBA_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("KVBENCH_JIEBA_DIR");
  }
  test::expect_one_error(no_jieba, "KVBENCH_JIEBA_DIR");
  EXPECT_NE(no_jieba.err.find("/nonexistent/jieba-data"), std::string::npos) << no_jieba.err;
  EXPECT_EQ(english.exit_code, 0) << english.err;

  const auto ok = run_kvbench("score --dataset qasper --pred " + tmp.file("ok.jsonl"));
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "{\"dataset\": \"qasper\", \"score\": 100.0, \"n\": 1}\n");
}

TEST(ScoreCli, GoldenSetScoresWellUnderTenSeconds) {
  const auto shared = test::shared_dir();
  if (!shared) GTEST_SKIP() << "../shared is absent: the golden predictions live there";
  SKIP_WITHOUT_JIEBA();
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_kvbench("score --pred-dir " + *shared + "/data/longbench-golden");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(seconds, 10.0) << "scoring the 12 golden files (jieba dictionary included) took " << seconds << " s";
}

}  // namespace
}  // namespace kvbench
