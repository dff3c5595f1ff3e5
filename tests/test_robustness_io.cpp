// Issue 29, in process: the one JSON reading path (nesting, repeated keys, messages), inputs checked before they
// are read, outputs that never replace a special file or an input, stale temporaries, the run-folder lock, numbers
// checked in their own type, resume's config comparison, repeated LongBench ids, and ROUGE-L's pruned pairs.
// (The same classes on the real binary: tests/hostile_test.sh.)
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <random>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "datasets/loader.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/folder_lock.h"
#include "harness/common/json_util.h"
#include "harness/common/jsonl.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"
#include "harness/model/model_config.h"
#include "harness/runner/run_config.h"
#include "metrics/metric.h"
#include "metrics/text.h"
#include "policies/budget.h"
#include "policies/registry.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::error_of;
using test::TempDir;

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }
#define EXPECT_HAS(text, needle) EXPECT_TRUE(contains(text, needle)) << "'" << needle << "' not in: " << (text)

TEST(RobustnessJson, NestingRepeatedKeysAndMessages) {
  EXPECT_EQ(error_of([] { parse_json(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'), "ok"); }),
            "<no error>");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_HAS(error_of([&] { parse_json(deep, "deep.json"); }), "deep.json: JSON nested deeper than 64 levels");
  std::string nested = "1";
  for (int i = 0; i < 70; ++i) nested = "{\"a\": " + nested + "}";
  const std::string objects = "{\"policies\": [{\"params\": " + nested + "}]}";
  EXPECT_HAS(error_of([&] { parse_json(objects, "c.json"); }), "nested deeper than 64 levels (at 'policies[0].params");
  EXPECT_HAS(error_of([] { parse_json("{\"a\": {\"b\": 1, \"b\": 2}}", "c.json"); }),
             "c.json: key 'b' appears twice in 'a'");
  EXPECT_HAS(error_of([] { parse_json("{\"seed\": 1, \"seed\": 1}", "c.json"); }), "key 'seed' appears twice in the top level");
  EXPECT_HAS(error_of([] { parse_json("{\n  \"a\": ,\n}", "c.json"); }), "c.json: invalid JSON at line 2, column 8");
  EXPECT_HAS(error_of([] { parse_json("{\"a\": 1e99999}", "row:3"); }), "row:3: invalid JSON at column");
  EXPECT_HAS(error_of([] { parse_json("{\"a\": 1e99999}", "row:3"); }), "number overflow");
  EXPECT_HAS(error_of([] { parse_json("{\"a\": 1} // note", "c.json", /*allow_comments=*/true); }), "<no error>");
  for (const std::string& bad : {std::string("{\"a\": \"\xff\xfe\"}"), std::string("[1, 2"), std::string("{\"a\" 1}")}) {
    const std::string e = error_of([&] { parse_json(bad, "b.json"); });
    EXPECT_HAS(e, "b.json: invalid JSON");
    EXPECT_FALSE(contains(e, "[json.exception")) << e;
    EXPECT_FALSE(contains(e, "last read")) << e;
  }
  // Values given on command lines go through the same parser.
  EXPECT_EQ(json_or_string("abc", "--set x"), "abc");
  EXPECT_EQ(json_or_string("8bit", "--set x"), "8bit");
  EXPECT_EQ(json_or_string("12", "--set x"), 12);
  EXPECT_HAS(error_of([] { json_or_string("[1, 2", "--set budgets"); }), "--set budgets: invalid JSON");
  EXPECT_HAS(error_of([] { json_or_string("{\"a\": 1, \"a\": 2}", "--set x"); }), "key 'a' appears twice");
  EXPECT_HAS(error_of([] { json_or_string(std::string(1000, '[') + std::string(1000, ']'), "--set seed"); }),
             "nested deeper than 64");
}

TEST(RobustnessJson, TypedFieldsCheckNumbersInTheirOwnType) {
  const nlohmann::json j = parse_json(R"({"big": 18446744073709551615, "neg": -1, "f": 1e300, "s": "", "i": 7})", "c");
  const JsonFields f(j, "c.json");
  EXPECT_HAS(error_of([&] { f.get_int("big"); }), "c.json: key 'big' is out of range");
  EXPECT_HAS(error_of([&] { f.get_seed("neg", 0); }), "key 'neg' must be between 0 and");
  EXPECT_HAS(error_of([&] { f.get_seed("big", 0); }), "key 'big' must be between 0 and 9223372036854775807");
  EXPECT_HAS(error_of([&] { f.get_int_in("i", 8, 9); }), "key 'i' must be between 8 and 9, got 7");
  EXPECT_HAS(error_of([&] { f.get_double_in("f", 0, 1); }), "key 'f' must be between 0 and 1");
  EXPECT_HAS(error_of([&] { f.get_nonempty("s", "x"); }), "key 's' must not be empty");
  EXPECT_EQ(f.get_nonempty("absent", "x"), "x");
  EXPECT_EQ(f.get_seed("absent", 5), 5u);
  EXPECT_HAS(error_of([] { JsonFields(nlohmann::json::array(), "m.json"); }), "m.json: expected a JSON object, got a list");
}

// The KVBENCH_* switches: unset or empty takes the first choice; a typo is an error that names the choices,
// never a silent default.
TEST(RobustnessEnvironment, SwitchesTakeOnlyTheirChoices) {
  const char* name = "KVBENCH_TEST_ENV_CHOICE";
  ::unsetenv(name);
  EXPECT_EQ(system::env_choice(name, {"a", "bb", "c"}), "a");
  ::setenv(name, "", 1);
  EXPECT_EQ(system::env_choice(name, {"a", "bb", "c"}), "a");
  ::setenv(name, "c", 1);
  EXPECT_EQ(system::env_choice(name, {"a", "bb", "c"}), "c");
  ::setenv(name, "b", 1);
  try {
    system::env_choice(name, {"a", "bb", "c"});
    ADD_FAILURE() << "a value outside the choices was taken";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "KVBENCH_TEST_ENV_CHOICE must be a, bb or c, got 'b'");
  }
  ::setenv(name, "x", 1);
  EXPECT_THROW(system::env_choice(name, {"only"}), Error);
  ::unsetenv(name);
}

TEST(RobustnessFiles, InputsAreRegularFilesCheckedBeforeReading) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0644), 0);
  EXPECT_HAS(error_of([&] { InputFile f(dir.file("fifo")); }), "is a FIFO (named pipe), not a regular file");
  EXPECT_HAS(error_of([&] { read_json_file(dir.file("fifo")); }), "is a FIFO");
  EXPECT_HAS(error_of([&] { LineReader r(dir.file("fifo")); }), "is a FIFO");
  EXPECT_HAS(error_of([&] { InputFile f(dir.path()); }), "is a folder, not a regular file");
  EXPECT_HAS(error_of([] { InputFile f("/dev/null"); }), "'/dev/null' is a character device, not a regular file");
  EXPECT_HAS(error_of([&] { InputFile f(dir.file("nothing")); }), "does not exist");
  EXPECT_HAS(error_of([] { InputFile f(""); }), "an empty path");
  test::write_file(dir.file("big.json"), std::string(100, ' ') + "{}");
  EXPECT_HAS(error_of([&] { read_json_file(dir.file("big.json"), false, 50); }), "is 102 bytes, more than the 50 bytes");
  if (::geteuid() != 0) {  // root reads anything
    test::write_file(dir.file("secret.json"), "{}");
    ::chmod(dir.file("secret.json").c_str(), 0);
    EXPECT_HAS(error_of([&] { read_json_file(dir.file("secret.json")); }), "Permission denied");
    ::chmod(dir.path().c_str(), 0);
    EXPECT_HAS(error_of([&] { check_directory(dir.path(), "the model folder"); }), "Permission denied");
    ::chmod(dir.path().c_str(), 0755);
  }
  EXPECT_HAS(error_of([&] { check_directory(dir.file("big.json"), "the model folder"); }), "is a regular file, not a folder");
  // Lines: each within the limit, the offending one named; a torn last line is reported, not returned as complete.
  test::write_file(dir.file("rows.jsonl"), "{\"a\": 1}\n" + std::string(40, 'x') + "\n{\"b\"");
  LineReader lines(dir.file("rows.jsonl"), InputFile::kInput, 16);
  std::string line;
  ASSERT_TRUE(lines.next(line));
  EXPECT_EQ(line, "{\"a\": 1}");
  EXPECT_HAS(error_of([&] { lines.next(line); }), "rows.jsonl:2: a line longer than 16 bytes");
  LineReader all(dir.file("rows.jsonl"));
  while (all.next(line)) {
  }
  EXPECT_EQ(line, "{\"b\"");
  EXPECT_FALSE(all.last_line_complete());
  // A reader that does not own the file leaves a torn last line where it is; the run that owns it cuts it off.
  test::write_file(dir.file("torn.jsonl"), "{\"a\": 1}\n{\"b\": ");
  EXPECT_EQ(read_jsonl_rows(dir.file("torn.jsonl")).size(), 1u);
  EXPECT_EQ(test::read_file(dir.file("torn.jsonl")), "{\"a\": 1}\n{\"b\": ");
  bool repaired = false;
  EXPECT_EQ(read_jsonl_rows(dir.file("torn.jsonl"), &repaired).size(), 1u);
  EXPECT_TRUE(repaired);
  EXPECT_EQ(test::read_file(dir.file("torn.jsonl")), "{\"a\": 1}\n");
}

TEST(RobustnessFiles, OutputsNeverReplaceSpecialFilesOrInputs) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0644), 0);
  EXPECT_HAS(error_of([&] { write_file_atomic(dir.file("fifo"), "x"); }), "it is a FIFO (named pipe), not a regular file");
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_HAS(error_of([] { write_file_atomic("/dev/full", "x"); }), "'/dev/full': it is a character device");
  EXPECT_HAS(error_of([&] { JsonlAppender a(dir.file("fifo")); }), "FIFO");
  EXPECT_HAS(error_of([&] { write_file_atomic(dir.path(), "x"); }), "it is a folder");
  // An input of the command is never written over; a file of the command's own state is.
  const CommandInputs command;
  test::write_file(dir.file("in.json"), "{}");
  read_json_file(dir.file("in.json"));
  EXPECT_HAS(error_of([&] { write_file_atomic(dir.file("in.json"), "{}"); }), "one of this command's inputs");
  EXPECT_HAS(error_of([&] { JsonlAppender a(dir.file("in.json")); }), "one of this command's inputs");
  EXPECT_EQ(test::read_file(dir.file("in.json")), "{}");
  test::write_file(dir.file("own.json"), "{}");
  read_own_json_file(dir.file("own.json"));
  write_file_atomic(dir.file("own.json"), "[]");
  EXPECT_EQ(test::read_file(dir.file("own.json")), "[]");
  // A symbolic link: the file it names is written, and the link stays.
  test::write_file(dir.file("target.txt"), "old");
  ASSERT_EQ(::symlink(dir.file("target.txt").c_str(), dir.file("link.txt").c_str()), 0);
  write_file_atomic(dir.file("link.txt"), "new");
  EXPECT_EQ(test::read_file(dir.file("target.txt")), "new");
  ASSERT_EQ(::lstat(dir.file("link.txt").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(RobustnessFiles, StaleTemporariesOfKilledWritersAreRemoved) {
  TempDir dir;
  const pid_t dead = [] {  // a pid that has ended
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
  }();
  const std::string host = system::host_name(), live = std::to_string(::getppid()), gone = std::to_string(dead);
  for (const std::string& name : {"report.json.tmp." + gone, "report.json.tmp." + gone + "." + host,
                                  "report.json.tmp." + live + "." + host, "report.json.tmp." + gone + ".other-host",
                                  "manifest.json.tmp." + gone})
    test::write_file(dir.file(name), "partial");
  write_file_atomic(dir.file("report.json"), "{}");
  EXPECT_FALSE(paths::exists(dir.file("report.json.tmp." + gone)));
  EXPECT_FALSE(paths::exists(dir.file("report.json.tmp." + gone + "." + host)));
  EXPECT_TRUE(paths::exists(dir.file("report.json.tmp." + live + "." + host))) << "a live writer's temporary";
  EXPECT_TRUE(paths::exists(dir.file("report.json.tmp." + gone + ".other-host"))) << "another machine's writer";
  EXPECT_TRUE(paths::exists(dir.file("manifest.json.tmp." + gone))) << "another file's: left to its own writer";
  test::write_file(dir.file("predictions/full/trec.jsonl.tmp." + gone), "partial");
  remove_stale_temporaries(dir.path(), 3);
  EXPECT_FALSE(paths::exists(dir.file("manifest.json.tmp." + gone)));
  EXPECT_FALSE(paths::exists(dir.file("predictions/full/trec.jsonl.tmp." + gone)));
}

TEST(RobustnessFiles, OneProcessPerRunFolder) {
  TempDir dir;
  {
    const FolderLock held(dir.file("run"), "kvbench run --config a.json");
    const std::string e = error_of([&] { FolderLock second(dir.file("run"), "kvbench run --config b.json"); });
    EXPECT_HAS(e, "is in use by another kvbench process (pid " + std::to_string(::getpid()) + " on ");
    EXPECT_HAS(e, ": kvbench run --config a.json)");
    held.check_still_held();
    paths::remove_all(dir.file("run"));
    EXPECT_HAS(error_of([&] { held.check_still_held(); }), "was removed or replaced while kvbench was writing into it");
  }
  const FolderLock again(dir.file("run"), "x");  // released with its holder
  paths::create_directories(dir.file("bad"));
  ASSERT_EQ(::mkfifo(dir.file("bad/kvbench.lock").c_str(), 0644), 0);
  EXPECT_HAS(error_of([&] { FolderLock l(dir.file("bad"), "x"); }), "is a FIFO (named pipe), not a regular file");
}

std::string config_error(const nlohmann::json& edit) {
  nlohmann::json c = {{"model", {{"path", "m"}}}, {"prompt", {{"ids", {1, 2, 3}}}}, {"policies", {{{"name", "full"}}}}};
  c.merge_patch(edit);
  return error_of([&] { parse_run_config(c, "r.json"); });
}

TEST(RobustnessNumbers, CheckedInTheirOwnTypeBeforeAnyCast) {
  const auto policy = [](const nlohmann::json& p) { return nlohmann::json{{"policies", {p}}}; };
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", 9223372036854775807LL}})), "a token budget must be between 1 and 16777216");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", 18446744073709551615ULL}})), "a token budget must be between");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", {{"kv_bytes", 1e300}}}})), "kv_bytes must be at most");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", {{"kv_bytes", 18446744073709551615ULL}}}})), "kv_bytes must be at most");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", {{"kv_bytes", "inf"}}}})), "'inf' is not a byte size");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", {{"kv_bytes", "1e400B"}}}})), "'1e400B' is out of range");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", {{"kv_bytes", "0x10"}}}})), "is not a byte size");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", {{"evict", 1.5}}}})), "evict must be a number in [0, 1)");
  EXPECT_HAS(config_error(policy({{"name", "snapkv"}, {"budget", 8}, {"params", {{"window", 9223372036854775807LL}}}})),
             "parameter 'window' must be between -16777216 and 16777216");
  EXPECT_HAS(config_error(policy({{"name", "pyramidkv"}, {"budget", 8}, {"params", {{"beta", 1e300}}}})),
             "parameter 'beta' must be between -1000000 and 1000000");
  EXPECT_HAS(config_error(policy({{"name", "full"}, {"seed", -1}})), "key 'seed' must be between 0 and");
  EXPECT_HAS(config_error({{"seed", 18446744073709551615ULL}}), "key 'seed' must be between 0 and");
  EXPECT_HAS(config_error({{"model", {{"max_length", 1}}}}), "model.max_length must be between 2 and");
  EXPECT_HAS(config_error({{"model", {{"prefill_chunk", -1}}}}), "key 'prefill_chunk' must be between 0 and");
  EXPECT_HAS(config_error({{"prompt", {{"ids", {1, -2}}}}}), "prompt.ids must be a list of token ids");
  EXPECT_HAS(config_error({{"coverage_window", 1LL << 40}}), "key 'coverage_window' must be between 0 and");
  EXPECT_HAS(error_of([] { parse_bytes("1e400B", "--kv-bytes"); }), "--kv-bytes: '1e400B' is out of range");
  EXPECT_HAS(error_of([] { parse_bytes("nan", "--kv-bytes"); }), "is not a byte size");
  EXPECT_HAS(error_of([] { parse_bytes("0.1B", "--kv-bytes"); }), "is out of range");
  EXPECT_EQ(parse_bytes("256MiB", "--kv-bytes"), 256.0 * 1024 * 1024);
  // Every float that enters the model: finite, and in a range that gives finite logits.
  nlohmann::json m = {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 64}, {"hidden_size", 32},
                      {"intermediate_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
  const auto model_error = [&](const nlohmann::json& edit) {
    nlohmann::json c = m;
    c.merge_patch(edit);
    return error_of([&] { parse_model_config(c, "m/config.json"); });
  };
  EXPECT_HAS(model_error({{"rope_theta", 1e-300}}), "rope_theta must be at least 1");
  EXPECT_HAS(model_error({{"rms_norm_eps", 1e300}}), "rms_norm_eps must be at most 1");
  EXPECT_HAS(model_error({{"rope_scaling", {{"rope_type", "linear"}, {"factor", 1e-300}}}}), "rope_scaling.factor must be at least 1");
  EXPECT_HAS(model_error({{"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8}, {"low_freq_factor", 4}, {"high_freq_factor", 1},
                                            {"original_max_position_embeddings", 8192}}}}),
             "needs 0 < low_freq_factor < high_freq_factor");
  EXPECT_HAS(model_error({{"bos_token_id", 18446744073709551615ULL}}), "key 'bos_token_id' must be between 0 and");
  EXPECT_HAS(model_error({{"eos_token_id", {2, -7}}}), "'eos_token_id' must be a token id");
  EXPECT_EQ(model_error({{"rope_theta", 500000.0}}), "<no error>");
}

TEST(RobustnessResume, OnlySafeKeysMayDiffer) {
  const nlohmann::json run = {{"seed", 1},
                              {"output_dir", "a"},
                              {"model", {{"device", "cpu"}, {"dtype", "f32"}, {"batch_decode", "auto"}}},
                              {"policies", {{{"name", "snapkv"}, {"budget", 64}}}},
                              {"prompt", {{"random_ids", {{"tokens", 64}, {"seed", 3}}}}}};
  nlohmann::json now = run;
  EXPECT_EQ(resume_difference(run, now), "");
  now["output_dir"] = "b";
  now["model"]["device"] = "cuda:1";
  now["model"]["batch_decode"] = "on";
  now["warmup_tokens"] = 128;
  EXPECT_EQ(resume_difference(run, now), "");
  now["policies"][0]["budget"] = 128;
  EXPECT_EQ(resume_difference(run, now), "policies[0].budget");
  now = run;
  now["prompt"]["random_ids"]["seed"] = 4;
  EXPECT_EQ(resume_difference(run, now), "prompt.random_ids.seed");
  now = run;
  now["max_new_tokens"] = 16;
  EXPECT_EQ(resume_difference(run, now), "max_new_tokens");
  now = run;
  now["policies"].push_back({{"name", "full"}});
  EXPECT_EQ(resume_difference(run, now), "policies");
}

TEST(RobustnessData, RepeatedIdsAreMadeUniqueStably) {
  TempDir dir;
  std::string rows;
  for (const char* id : {"a", "a", "a#2", "b", "a"})
    rows += nlohmann::json{{"input", "q"}, {"context", "c"}, {"answers", {"x"}}, {"length", 1}, {"_id", id}}.dump() + "\n";
  test::write_file(dir.file("trec.jsonl"), rows);
  std::vector<std::string> ids;
  for (const Sample& s : load_subset(dir.path(), "trec").samples) ids.push_back(s.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "a#2", "a#2#2", "b", "a#3"}));
  LoadOptions first_two;
  first_two.limit = 2;
  EXPECT_EQ(load_subset(dir.path(), "trec", first_two).samples.back().id, "a#2");
  LoadOptions chosen;
  chosen.ids = {"a#3"};
  EXPECT_EQ(load_subset(dir.path(), "trec", chosen).samples.at(0).line, 5u);
  test::write_file(dir.file("narrativeqa.jsonl"), rows + std::string(kMaxLineBytes + 1, ' ') + "\n");
  EXPECT_HAS(error_of([&] { load_subset(dir.path(), "narrativeqa"); }), "narrativeqa.jsonl:6: a line longer than 4.0 MiB");
}

// pltrdy rouge 1.0.1's summary-level ROUGE-L as the official code runs it: every (reference, hypothesis) sentence
// pair's LCS table and back-trace, with the recursion limit (the reference for the pruned implementation).
double rouge_every_pair(const std::vector<std::vector<int>>& hyp, const std::vector<std::vector<int>>& ref, int limit) {
  std::set<int> ref_words, hyp_words, lcs_union;
  for (const auto& s : ref) ref_words.insert(s.begin(), s.end());
  for (const auto& s : hyp) hyp_words.insert(s.begin(), s.end());
  for (const auto& x : ref)
    for (const auto& y : hyp) {
      std::vector<std::vector<int>> t(x.size() + 1, std::vector<int>(y.size() + 1, 0));
      for (std::size_t i = 1; i <= x.size(); ++i)
        for (std::size_t j = 1; j <= y.size(); ++j)
          t[i][j] = x[i - 1] == y[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
      std::size_t i = x.size(), j = y.size();
      int steps = 0;
      while (i > 0 && j > 0) {
        if (++steps >= limit) return 0.0;
        if (x[i - 1] == y[j - 1]) {
          lcs_union.insert(x[i - 1]);
          --i, --j;
        } else if (t[i - 1][j] > t[i][j - 1]) {
          --i;
        } else {
          --j;
        }
      }
    }
  const double r = static_cast<double>(lcs_union.size()) / static_cast<double>(ref_words.size());
  const double p = static_cast<double>(lcs_union.size()) / static_cast<double>(hyp_words.size());
  return 2.0 * ((p * r) / (p + r + 1e-8));
}

// "w3 w1. w2." (no piece after the last '.', which the official splitting would keep as an empty sentence).
std::u32string as_text(const std::vector<std::vector<int>>& sentences) {
  std::string out;
  for (const auto& s : sentences) {
    if (!out.empty()) out += " ";
    for (std::size_t k = 0; k < s.size(); ++k) out += (k ? " w" : "w") + std::to_string(s[k]);
    out += ".";
  }
  return metrics::py::decode(out);
}

TEST(RobustnessRouge, SkippedPairsChangeNoScoreAndHugeTextsStayCheap) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    // Every tenth trial: a few sentences long enough for back-traces near the step limit.
    const bool long_ones = trial % 10 == 0;
    const int vocab = 3 + static_cast<int>(rng() % 40), max_len = long_ones ? 700 : 12, most = long_ones ? 3 : 12;
    const auto text = [&](int sentences) {
      std::vector<std::vector<int>> out(static_cast<std::size_t>(sentences));
      for (auto& s : out) {
        s.resize(1 + rng() % static_cast<unsigned>(max_len));
        for (int& w : s) w = static_cast<int>(rng() % static_cast<unsigned>(vocab));
      }
      return out;
    };
    const auto hyp = text(1 + static_cast<int>(rng() % most)), ref = text(1 + static_cast<int>(rng() % most));
    SCOPED_TRACE(trial);
    EXPECT_EQ(metrics::rouge_l_f(as_text(hyp), as_text(ref), metrics::kRougeMaxSteps),
              rouge_every_pair(hyp, ref, metrics::kRougeMaxSteps));
  }
  // 3,000 sentences against 3,000: the official code builds nine million tables; this takes well under a second.
  std::vector<std::vector<int>> big(3000);
  for (auto& s : big) {
    s.resize(8);
    for (int& w : s) w = static_cast<int>(rng() % 5000);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const double same = metrics::rouge_l_f(as_text(big), as_text(big), metrics::kRougeMaxSteps);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
  EXPECT_NEAR(same, 1.0, 1e-7);
}

}  // namespace
}  // namespace kvbench
