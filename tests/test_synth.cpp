// The synthetic RULER-style suite (datasets/synth.h, `kvbench synth`): lengths within 2% of the target,
// evidence spans that hold the needles, answers derivable from the context, determinism, the registry and
// runner integration, the RULER metrics, the haystack reader and the CLI's files and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "datasets/loader.h"
#include "datasets/prompt.h"
#include "datasets/subset.h"
#include "datasets/synth.h"
#include "datasets/synth_tasks.h"
#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/runner/run_config.h"
#include "metrics/metric.h"
#include "metrics/scorer.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::run_kvbench;
using test::shared_path;
using test::TempDir;

std::string llama2_dir() { return shared_path("data/tokenizers/llama2_spm"); }

// Loaded once: the tests below generate many samples with it.
const Tokenizer& llama2() {
  static const std::unique_ptr<Tokenizer> tok = load_tokenizer(llama2_dir());
  return *tok;
}

std::string span_text(const Sample& s, const std::pair<std::int64_t, std::int64_t>& span) {
  return s.context.substr(static_cast<std::size_t>(span.first), static_cast<std::size_t>(span.second - span.first));
}

// The prompt a run would feed (no truncation, no chat): what the 2% rule is about.
std::int64_t runner_tokens(const Sample& s) {
  PromptOptions po;
  po.max_length = std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(build_prompt(find_subset(s.dataset), s, llama2(), po).ids.size());
}

// "Paragraph 1: text\n\nParagraph 2: text" → texts.
std::vector<std::string> paragraphs(const std::string& context) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (std::size_t i = 1;; ++i) {
    const std::string label = "Paragraph " + std::to_string(i) + ": ";
    if (context.compare(pos, label.size(), label) != 0) break;
    const std::size_t end = std::min(context.find("\n\nParagraph ", pos), context.size());
    out.push_back(context.substr(pos + label.size(), end - pos - label.size()));
    pos = end + 2;
    if (end == context.size()) break;
  }
  return out;
}

// What each task's answers must follow from, checked on the context alone.
void expect_answers_derivable(const Sample& s) {
  SCOPED_TRACE(s.id);
  ASSERT_FALSE(s.answers.empty());
  ASSERT_FALSE(s.evidence.empty());
  std::vector<std::string> evidence;
  for (const auto& span : s.evidence) {
    ASSERT_TRUE(0 <= span.first && span.first < span.second && span.second <= static_cast<std::int64_t>(s.context.size()));
    evidence.push_back(span_text(s, span));
  }
  auto in_evidence = [&](const std::string& needle) {
    return std::any_of(evidence.begin(), evidence.end(), [&](const std::string& e) { return e.find(needle) != std::string::npos; });
  };
  if (s.dataset == "synth_passage_count") {
    const auto texts = paragraphs(s.context);
    ASSERT_GE(texts.size(), 4u);
    const std::set<std::string> unique(texts.begin(), texts.end());
    EXPECT_EQ(s.answers, std::vector<std::string>{std::to_string(unique.size())});
    EXPECT_LT(unique.size(), texts.size());
    for (const auto& e : evidence) EXPECT_GE(std::count(texts.begin(), texts.end(), e), 2) << e;  // the repeated ones
    return;
  }
  if (s.dataset == "synth_passage_retrieval") {
    ASSERT_EQ(evidence.size(), 1u);
    EXPECT_EQ(evidence[0].rfind(s.answers[0] + ": ", 0), 0u) << evidence[0].substr(0, 40);
    EXPECT_NE(evidence[0].find(s.input), std::string::npos);
    EXPECT_EQ(s.context.find(s.input), s.context.rfind(s.input)) << "the asked sentence occurs twice";
    return;
  }
  for (const auto& answer : s.answers) EXPECT_TRUE(in_evidence(answer)) << answer;
  if (s.dataset == "passkey") {
    EXPECT_TRUE(in_evidence("The pass key is " + s.answers[0] + "."));
  }
  if (s.dataset.rfind("niah_", 0) == 0) {
    for (const auto& e : evidence) EXPECT_EQ(e.rfind("One of the special magic numbers for ", 0), 0u) << e;
    // The asked key is in the question and in the needle that answers it.
    const std::string key = evidence[0].substr(37, evidence[0].find(" is: ") - 37);
    EXPECT_NE(s.input.find(key), std::string::npos) << key;
  }
  if (s.dataset == "niah_multikey") {
    EXPECT_EQ(evidence.size(), 1u);  // the distractors are not evidence ...
    std::size_t needles = 0;          // ... but they are in the text
    for (std::size_t p = s.context.find("special magic numbers for "); p != std::string::npos;
         p = s.context.find("special magic numbers for ", p + 1))
      ++needles;
    EXPECT_EQ(needles, 4u);
  }
  if (s.dataset == "niah_multivalue" || s.dataset == "niah_multiquery") {
    EXPECT_EQ(evidence.size(), 4u);
  }
  if (s.dataset == "niah_multivalue") {
    // The answers in text order (a training target needs one order; the scoring ignores it).
    ASSERT_EQ(evidence.size(), 4u);
    for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(evidence[k].substr(evidence[k].size() - 8), s.answers[k] + ".");
  }
  if (s.dataset == "variable_tracking") {
    ASSERT_EQ(evidence.size(), 5u);
    // The chain in text order: the first holds the value, each next one copies the one before.
    EXPECT_NE(evidence[0].find("= " + s.input.substr(s.input.find("the value ") + 10, 7) + "."), std::string::npos);
    for (std::size_t k = 1; k < 5; ++k) EXPECT_EQ(evidence[k], "VAR " + s.answers[k] + " = VAR " + s.answers[k - 1] + ".");
  }
  if (s.dataset == "common_words") {
    // Count the list: the ten answers are strictly the most frequent words.
    std::map<std::string, int> count;
    std::istringstream in(s.context);
    std::string token;
    while (in >> token)
      if (token.back() != '.') ++count[token];
    int least_common = std::numeric_limits<int>::max(), most_other = 0;
    for (const auto& [word, n] : count) {
      if (std::find(s.answers.begin(), s.answers.end(), word) != s.answers.end()) {
        least_common = std::min(least_common, n);
      } else {
        most_other = std::max(most_other, n);
      }
    }
    EXPECT_EQ(s.answers.size(), 10u);
    EXPECT_GT(least_common, most_other);
    for (const auto& e : evidence) EXPECT_NE(std::find(s.answers.begin(), s.answers.end(), e), s.answers.end()) << e;
  }
}

class SynthTask : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthTask, LengthWithinTwoPercentEvidenceHoldsTheAnswers) {
  KVBENCH_REQUIRE_SHARED();
  const synth::Haystack haystack;
  for (const std::int64_t target : {1024, 4096}) {
    const synth::SynthResult r = synth::generate_sample(GetParam(), target, 7, 3, llama2(), haystack);
    const Sample& s = r.sample;
    EXPECT_EQ(s.id, GetParam() + "-" + std::to_string(target) + "-s7-0003");
    EXPECT_EQ(s.dataset, GetParam());
    const std::int64_t tokens = runner_tokens(s);
    EXPECT_EQ(tokens, r.prompt_tokens);
    EXPECT_LE(std::llabs(tokens - target), target / 50) << tokens << " tokens for a target of " << target;
    EXPECT_EQ(s.length, static_cast<std::int64_t>(llama2().encode(s.context, false).size() + llama2().encode(s.input, false).size()));
    expect_answers_derivable(s);
  }
}

TEST_P(SynthTask, DeterministicForASeedDifferentAcrossSeeds) {
  KVBENCH_REQUIRE_SHARED();
  const synth::Haystack haystack;
  auto row = [&](std::uint64_t seed, std::size_t index) {
    return synth::sample_row(synth::generate_sample(GetParam(), 1024, seed, index, llama2(), haystack).sample).dump();
  };
  const std::string a = row(11, 0);
  EXPECT_EQ(a, row(11, 0));
  auto without_id = [](const std::string& r) { auto j = nlohmann::json::parse(r); j.erase("_id"); return j.dump(); };
  EXPECT_NE(without_id(a), without_id(row(12, 0)));
  EXPECT_NE(without_id(a), without_id(row(11, 1)));
}

INSTANTIATE_TEST_SUITE_P(AllTasks, SynthTask, ::testing::ValuesIn(synth::task_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(Synth, RegistryKnowsTheTasks) {
  const auto group = subsets_in("synth");
  ASSERT_EQ(group.size(), 9u);
  ASSERT_EQ(synth::task_names().size(), 9u);
  for (std::size_t i = 0; i < group.size(); ++i) {
    const SubsetSpec& s = *group[i];
    SCOPED_TRACE(s.name);
    EXPECT_EQ(s.name, synth::task_names()[i]);
    EXPECT_EQ(&find_subset(s.name), &s);
    EXPECT_EQ(s.category, "ruler");
    EXPECT_EQ(s.language, "en");
    EXPECT_FALSE(s.chat || s.first_line || s.stop_at_newline || s.has_e);
    EXPECT_GE(s.max_new_tokens, 16);
    EXPECT_LE(s.max_new_tokens, 64);
    EXPECT_NE(s.prompt.find("{context}"), std::string::npos);
    EXPECT_NE(s.prompt.find("{input}"), std::string::npos);
    EXPECT_NE(metrics::find_metric(s.metric), nullptr);
    EXPECT_STREQ(metrics::subset_metric(s.name), s.metric.c_str());  // the scorer scores them
  }
  // The LongBench groups, and LongBench's own passage_count, are untouched.
  EXPECT_EQ(subsets_in("longbench16").size(), 16u);
  EXPECT_EQ(subsets_in("longbench21").size(), 21u);
  EXPECT_EQ(find_subset("passage_count").metric, "count");
  EXPECT_EQ(find_subset("passage_count").prompt.find("Wikipedia") != std::string::npos, true);
  EXPECT_EQ(metrics::known_subsets().size(), 21u);
  EXPECT_NE(test::error_of([] { find_subset("niah_double"); }).find("synthetic: passkey, niah_single"), std::string::npos);
  EXPECT_NE(test::error_of([] { synth::check_task("niah_double"); }).find("known: passkey, niah_single"), std::string::npos);
  // A run config names the group.
  const RunConfig rc = parse_run_config(nlohmann::json::parse(R"({"model": {"path": "m"}, "datasets": {"names": ["synth"]},
                                                                  "policies": [{"name": "full"}]})"), "c.json");
  EXPECT_EQ(rc.subsets, synth::task_names());
}

TEST(Synth, RulerMetricsByHand) {
  using metrics::ruler_all_score;
  using metrics::ruler_any_score;
  const std::vector<std::string> none;
  // string_match_part: case-insensitive containment of one reference.
  EXPECT_EQ(ruler_any_score("The answer is 1234567.", "1234567", none), 1.0);
  EXPECT_EQ(ruler_any_score("APPLE, pear", "apple", none), 1.0);
  EXPECT_EQ(ruler_any_score("apple", "Apple pie", none), 0.0);
  EXPECT_EQ(ruler_any_score("ÄPFEL", "äpfel", none), 1.0);  // Unicode lower, as Python's str.lower()
  // string_match_all: the share of references found. 2 of 4 → 0.5; 3 of 4 → 0.75; 0 of 2 → 0.
  EXPECT_EQ(ruler_all_score("1111111, 2222222 and more", {"1111111", "2222222", "3333333", "4444444"}), 0.5);
  EXPECT_EQ(ruler_all_score("abcde fghij KLMNO", {"ABCDE", "FGHIJ", "klmno", "PQRST"}), 0.75);
  EXPECT_EQ(ruler_all_score("nothing", {"a1", "b2"}), 0.0);
  EXPECT_EQ(ruler_all_score("x", {}), 0.0);
}

TEST(Synth, ScorerGivesRulerAllTheWholeAnswerList) {
  // Per sample: niah_multivalue (ruler_all) finds 3 of 4 → 0.75, where a max over single answers would say 1;
  // niah_single with its one answer: 1 and 0. Subset: round(100 * mean, 2).
  const auto multi = metrics::parse_prediction_jsonl(
      R"({"pred": " 1111111, 2222222, 4444444", "answers": ["1111111", "2222222", "3333333", "4444444"], "all_classes": null})"
      "\n"
      R"({"pred": "none of them", "answers": ["1111111", "2222222"], "all_classes": null})",
      "multi.jsonl");
  EXPECT_EQ(metrics::sample_scores("niah_multivalue", multi), (std::vector<double>{0.75, 0.0}));
  EXPECT_EQ(metrics::subset_score(metrics::sample_scores("niah_multivalue", multi)), 37.5);
  const auto single = metrics::parse_prediction_jsonl(
      R"({"pred": "It is 7654321.", "answers": ["7654321"], "all_classes": null})"
      "\n"
      R"({"pred": "It is 7654320.", "answers": ["7654321"], "all_classes": null})",
      "single.jsonl");
  EXPECT_EQ(metrics::sample_scores("niah_single", single), (std::vector<double>{1.0, 0.0}));
  // The passage tasks keep LongBench's number metrics: "17" is not "7".
  const auto count = metrics::parse_prediction_jsonl(R"({"pred": "17", "answers": ["7"], "all_classes": null})", "c.jsonl");
  EXPECT_EQ(metrics::sample_scores("synth_passage_count", count), (std::vector<double>{0.0}));
  const auto retrieval =
      metrics::parse_prediction_jsonl(R"({"pred": " Paragraph 3", "answers": ["Paragraph 3"], "all_classes": null})", "r.jsonl");
  EXPECT_EQ(metrics::sample_scores("synth_passage_retrieval", retrieval), (std::vector<double>{1.0}));
}

TEST(Synth, SeedsAndRandomHelperAreFixed) {
  // Sample seeds differ by index and task, and the helper stays in range.
  EXPECT_NE(synth::sample_seed(1, 0, "passkey"), synth::sample_seed(1, 1, "passkey"));
  EXPECT_NE(synth::sample_seed(1, 0, "passkey"), synth::sample_seed(1, 0, "niah_single"));
  EXPECT_NE(synth::sample_seed(1, 0, "passkey"), synth::sample_seed(2, 0, "passkey"));
  EXPECT_EQ(synth::sample_id("passkey", 4096, 7, 3), "passkey-4096-s7-0003");
  synth::SynthRng a(5), b(5);
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.below(7);
    EXPECT_EQ(x, b.below(7));
    EXPECT_LT(x, 7u);
    const auto y = a.between(-3, 3);
    b.between(-3, 3);
    EXPECT_TRUE(-3 <= y && y <= 3);
  }
  // mt19937_64's sequence is fixed by the standard (its 10000th output from the default seed).
  std::mt19937_64 e;
  e.discard(9999);
  EXPECT_EQ(e(), 9981545732273789042ULL);
}

TEST(Synth, TrimKeepsASentenceEnd) {
  EXPECT_EQ(synth::trim_words("The fox ran to the mill.", 3), "The fox ran.");
  EXPECT_EQ(synth::trim_words("Who took the lantern, then?", 1), "Who took the lantern?");
  EXPECT_EQ(synth::trim_words("Go.", 5), "Go.");
  EXPECT_EQ(synth::trim_words("One two", 0), "One two");
  EXPECT_EQ(synth::word_count(" a  b c "), 3u);
}

TEST(Synth, HaystackFromTextFiles) {
  // Sentences split at . ! ? before whitespace, paragraphs at blank lines, lines folded, files in name order.
  const auto split = synth::split_sentences("First one. Second\r\nline goes on!  \n\n\"Quoted?\" Last words");
  ASSERT_EQ(split.size(), 4u);
  EXPECT_EQ(split[0].text, "First one.");
  EXPECT_EQ(split[1].text, "Second line goes on!");
  EXPECT_TRUE(split[1].paragraph_end);
  EXPECT_EQ(split[2].text, "\"Quoted?\"");
  EXPECT_EQ(split[3].text, "Last words");
  // A long run without sentence ends is cut at spaces so that the length fit keeps fine steps.
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "word ";
  for (const auto& s : synth::split_sentences(long_text)) EXPECT_LE(s.text.size(), 300u);

  TempDir dir;
  test::write_file(dir.file("b.txt"), "Zebras graze near the water. They look up.\n");
  test::write_file(dir.file("a.txt"), "\xEF\xBB\xBF" "Alpha begins here. Beta follows.\n\nGamma ends it.\n");
  test::write_file(dir.file("notes.md"), "Ignored. Not a text file.");
  const auto h = synth::Haystack::from_directory(dir.path());
  EXPECT_EQ(h.file_sentence_count(), 5u);
  const auto stream = h.sentences(3, 12);
  ASSERT_EQ(stream.size(), 12u);
  const std::vector<std::string> order = {"Alpha begins here.", "Beta follows.", "Gamma ends it.",
                                          "Zebras graze near the water.", "They look up."};
  const auto start = std::find(order.begin(), order.end(), stream[0].text) - order.begin();
  for (std::size_t i = 0; i < stream.size(); ++i) EXPECT_EQ(stream[i].text, order[(start + i) % 5]);  // cycled
  // A needle task on it: the filler is the files' sentences.
  if (test::shared_dir()) {
    const Sample s = synth::generate_sample("niah_single", 300, 1, 0, llama2(), h).sample;
    EXPECT_NE(s.context.find("Gamma ends it."), std::string::npos);
    EXPECT_EQ(s.context.find("The river is wide."), std::string::npos);
    expect_answers_derivable(s);
  }
  // Bad folders are errors naming the problem.
  EXPECT_NE(test::error_of([&] { synth::Haystack::from_directory(dir.file("missing")); }).find("does not exist"), std::string::npos);
  TempDir empty;
  EXPECT_NE(test::error_of([&] { synth::Haystack::from_directory(empty.path()); }).find("no .txt files"), std::string::npos);
  test::write_file(empty.file("bad.txt"), "caf\xE9 au lait.");
  EXPECT_NE(test::error_of([&] { synth::Haystack::from_directory(empty.path()); }).find("not UTF-8 (bad byte at offset 3)"),
            std::string::npos);
}

TEST(Synth, TooFewTokensIsAClearError) {
  KVBENCH_REQUIRE_SHARED();
  const synth::Haystack haystack;
  EXPECT_NE(test::error_of([&] { synth::generate_sample("niah_multiquery", 50, 0, 0, llama2(), haystack); })
                .find("--tokens 50 is too small for niah_multiquery: its shortest prompt has"),
            std::string::npos);
}

// --- the CLI ------------------------------------------------------------------------------------------------

TEST(SynthCli, BadInputIsOneClearError) {
  TempDir dir;
  const std::string tok = test::shared_dir() ? llama2_dir() : dir.file("none");
  test::expect_one_error(run_kvbench("synth --task niah_double --tokens 512 --tokenizer " + tok + " --out " + dir.file("x.jsonl")),
                       "unknown synthetic task 'niah_double' (known: passkey, niah_single, niah_multikey, niah_multivalue, "
                       "niah_multiquery, variable_tracking, common_words, synth_passage_count, synth_passage_retrieval)");
  test::expect_one_error(run_kvbench("synth --task passkey --tokens 512 --tokenizer " + tok + " --out " + dir.file("x.jsonl") +
                                   " --haystack " + dir.file("nowhere")),
                       "haystack folder");
  EXPECT_FALSE(paths::exists(dir.file("x.jsonl")));
  if (!test::shared_dir()) return;
  test::expect_one_error(run_kvbench("synth --task common_words --tokens 64 --count 2 --tokenizer " + tok + " --out " +
                                   dir.file("x.jsonl")),
                       "too small for common_words");
  EXPECT_FALSE(paths::exists(dir.file("x.jsonl")));  // nothing half-written is left
}

TEST(SynthCli, AllTasksWriteLoadableFilesAndTrainingRecords) {
  KVBENCH_REQUIRE_SHARED();
  TempDir dir;
  const std::string out = dir.file("suite");
  const auto r = run_kvbench("synth --task all --tokens 512 --count 2 --seed 5 --tokenizer " + llama2_dir() + " --out " +
                             out + " --train-out " + dir.file("train.bin"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<Sample> all;
  for (const auto& task : synth::task_names()) {
    SCOPED_TRACE(task);
    const LoadResult rows = load_subset(out, task);  // the LongBench loader reads them (evidence included)
    ASSERT_EQ(rows.samples.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      const Sample& s = rows.samples[i];
      EXPECT_EQ(s.id, synth::sample_id(task, 512, 5, i));
      // Byte-identical to the library's own generation.
      const Sample again = synth::generate_sample(task, 512, 5, i, llama2(), synth::Haystack()).sample;
      EXPECT_EQ(s.context, again.context);
      EXPECT_EQ(s.evidence, again.evidence);
      EXPECT_EQ(s.answers, again.answers);
      all.push_back(s);
    }
    const std::string line = test::read_file(paths::join(out, task + ".jsonl")).substr(0, 200);
    EXPECT_EQ(line.rfind("{\"input\":", 0), 0u) << line;
  }
  // Training records: uint32 prompt_len, uint32 answer_len, ids; prompts as the runner builds them, answers
  // as they follow the prompt, then EOS.
  const std::string bin = test::read_file(dir.file("train.bin"));
  std::size_t pos = 0;
  auto u32 = [&] {
    const auto* p = reinterpret_cast<const unsigned char*>(bin.data() + pos);
    pos += 4;
    return static_cast<std::uint32_t>(p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24));
  };
  PromptOptions po;
  po.max_length = std::numeric_limits<std::int64_t>::max();
  for (const Sample& s : all) {
    SCOPED_TRACE(s.id);
    ASSERT_LE(pos + 8, bin.size());
    const std::uint32_t prompt_len = u32(), answer_len = u32();
    std::vector<TokenId> prompt, answer;
    for (std::uint32_t k = 0; k < prompt_len; ++k) prompt.push_back(static_cast<TokenId>(u32()));
    for (std::uint32_t k = 0; k < answer_len; ++k) answer.push_back(static_cast<TokenId>(u32()));
    EXPECT_EQ(prompt, build_prompt(find_subset(s.dataset), s, llama2(), po).ids);
    ASSERT_GE(answer.size(), 2u);
    EXPECT_EQ(answer.back(), *llama2().eos_id());
    answer.pop_back();
    EXPECT_EQ(llama2().decode(answer, true), synth::answer_text(s));
    // The answer continues the prompt's text as the tokenizer splits it (no "▁▁" of a lone " 123").
    std::vector<TokenId> joint = prompt;
    joint.insert(joint.end(), answer.begin(), answer.end());
    EXPECT_EQ(joint, llama2().encode(build_prompt(find_subset(s.dataset), s, llama2(), po).text + " " + synth::answer_text(s), true));
  }
  EXPECT_EQ(pos, bin.size());
}

TEST(SynthCli, RunnerEvaluatesTheSuite) {
  KVBENCH_REQUIRE_SHARED();
  TempDir dir;
  const std::string data = dir.file("synth");
  ASSERT_EQ(run_kvbench("synth --task all --tokens 300 --count 1 --tokenizer " + llama2_dir() + " --out " + data).exit_code, 0);
  test::write_file(dir.file("run.json"), R"({
    "name": "s", "output_dir": ")" + dir.file("run") + R"(",
    "model": {"random": {"family": "llama", "layers": 1, "hidden": 32, "heads": 2, "kv_heads": 1, "vocab": 32000, "seed": 0},
              "tokenizer": ")" + llama2_dir() + R"(", "device": "cpu", "dtype": "f32", "chat": "none"},
    "datasets": {"names": ["synth"], "data_dir": ")" + data + R"("},
    "max_new_tokens": 2,
    "policies": [{"name": "full"}, {"name": "streaming", "budgets": [64, 128]}]})");
  const auto r = run_kvbench("run --log-level warn --config " + dir.file("run.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A run over datasets draws its score-vs-budget plot beside the report.
  EXPECT_NE(r.out.find("plot: " + dir.file("run/budget.svg")), std::string::npos) << r.out;
  EXPECT_NE(test::read_file(dir.file("run/budget.svg")).find("streaming"), std::string::npos);
  const auto report = nlohmann::json::parse(test::read_file(dir.file("run/report.json")));
  const auto& scores = report["variants"][0]["scores"];
  for (const auto& task : synth::task_names()) EXPECT_TRUE(scores.contains(task) && scores[task].is_number()) << task;
  // The evidence reaches the coverage statistics: the full cache keeps all of it.
  EXPECT_EQ(report["variants"][0]["coverage"]["evidence_recall"]["mean"], 1.0) << report["variants"][0]["coverage"].dump();
}

TEST(SynthCli, EvidenceCountsCharactersInTheFile) {
  // With a non-ASCII haystack, the file's spans count code points and the loader turns them back into the bytes
  // the generator marked.
  KVBENCH_REQUIRE_SHARED();
  TempDir dir;
  test::write_file(dir.file("h.txt"), "Le café ouvre tôt. Les élèves arrivent à l'école. Un garçon lit près du fleuve.\n");
  const auto r = run_kvbench("synth --task niah_multivalue --tokens 600 --count 1 --tokenizer " + llama2_dir() +
                             " --haystack " + dir.path() + " --out " + dir.file("o/niah_multivalue.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Sample loaded = load_subset(dir.file("o"), "niah_multivalue").samples.at(0);
  const Sample made = synth::generate_sample("niah_multivalue", 600, 0, 0, llama2(), synth::Haystack::from_directory(dir.path())).sample;
  EXPECT_EQ(loaded.evidence, made.evidence);
  ASSERT_EQ(loaded.evidence.size(), 4u);
  for (const auto& span : loaded.evidence) EXPECT_EQ(span_text(loaded, span).rfind("One of the special magic numbers", 0), 0u);
  const auto row = nlohmann::json::parse(test::read_file(dir.file("o/niah_multivalue.jsonl")));
  EXPECT_LT(row["evidence"].back()[0].get<std::int64_t>(), loaded.evidence.back().first);  // characters < bytes here
}

}  // namespace
}  // namespace kvbench
