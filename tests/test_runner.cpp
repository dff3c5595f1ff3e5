// kvbench run: configs (errors name the key), the LongBench loop with shared prefill, crash safety (kill -9
// then --resume gives byte-identical predictions and the same report), failing samples, dry runs, and the
// scores of report.json equal `kvbench score` on the prediction folders.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/safetensors.h"
#include "datasets/prompt.h"
#include "harness/runner/run_config.h"
#include "harness/tokenizer/tokenizer.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::TempDir;

// A byte-level tokenizer.json: one token per byte (GPT-2's byte alphabet, no merges) plus "<eos>" = 256.
std::string byte_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    vocab[s] = b;
  }
  return nlohmann::json{{"version", "1.0"},
                        {"truncation", nullptr},
                        {"padding", nullptr},
                        {"added_tokens", {{{"id", 256}, {"content", "<eos>"}, {"single_word", false}, {"lstrip", false},
                                           {"rstrip", false}, {"normalized", false}, {"special", true}}}},
                        {"normalizer", nullptr},
                        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                           {"use_regex", false}}},
                        {"post_processor", nullptr},
                        {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                     {"use_regex", false}}},
                        {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                                   {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                                   {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab},
                                   {"merges", nlohmann::json::array()}}}}
      .dump();
}

// A tiny model with that tokenizer, and LongBench-format files for narrativeqa and trec.
struct Bench {
  TempDir dir;
  std::string model, data;
  Bench(int samples, int context_chars) : model(dir.file("model")), data(dir.file("data")) {
    RandomModelSpec s;
    s.vocab_size = 260;
    s.hidden_size = 64;
    s.intermediate_size = 96;
    s.num_layers = 2;
    s.num_heads = 4;
    s.num_kv_heads = 2;
    s.seed = 9;
    write_random_checkpoint(model, s);
    test::write_file(paths::join(model, "tokenizer.json"), byte_tokenizer_json());
    paths::create_directories(data);
    std::ostringstream qa, trec;
    for (int i = 0; i < samples; ++i) {
      std::string context;
      while (static_cast<int>(context.size()) < context_chars) context += "The river " + std::to_string(i) + " runs past stone " + std::to_string(context.size() % 97) + ". ";
      qa << nlohmann::json{{"input", "Where does river " + std::to_string(i) + " run?"}, {"context", context},
                           {"answers", {"past stone"}}, {"length", 100 + i}, {"all_classes", nullptr},
                           {"_id", "qa" + std::to_string(i)}}.dump() << "\n";
      trec << nlohmann::json{{"input", "What is a river?"}, {"context", "Question: What is X?\nType: Definition\n"},
                             {"answers", {"Definition"}}, {"length", 50}, {"all_classes", {"Definition", "Location"}},
                             {"_id", "t" + std::to_string(i)}}.dump() << "\n";
    }
    test::write_file(paths::join(data, "narrativeqa.jsonl"), qa.str());
    test::write_file(paths::join(data, "trec.jsonl"), trec.str());
  }
  // `extra` (", \"key\": value, ...") replaces the base config's keys of those names (a config may not repeat a key).
  std::string config(const std::string& name, const std::string& extra = "") const {
    const std::string path = dir.file(name + ".json");
    nlohmann::json c = {{"name", name},
                        {"output_dir", dir.file(name)},
                        {"model", {{"path", model}, {"max_length", 600}, {"chat", "none"}}},
                        {"datasets", {{"names", {"narrativeqa", "trec"}}, {"data_dir", data}}},
                        {"max_new_tokens", 12},
                        {"policies", {{{"name", "full"}}, {{"name", "snapkv"}}, {{"name", "kvec"}, {"params", {{"rho", 0.5}}}}}},
                        {"budgets", {48}}};
    if (!extra.empty()) c.update(nlohmann::json::parse("{" + extra.substr(extra.find(',') + 1) + "}"));
    test::write_file(path, "// comments are allowed\n" + c.dump(2));
    return path;
  }
};

std::string read_tree(const std::string& root, const std::vector<std::string>& variants, const std::vector<std::string>& subsets) {
  std::string all;
  for (const auto& v : variants)
    for (const auto& s : subsets) all += "== " + v + "/" + s + "\n" + test::read_file(paths::join(root, "predictions/" + v + "/" + s + ".jsonl"));
  return all;
}

// report.json without the fields that measure time.
nlohmann::json without_timing(nlohmann::json report) {
  report.erase("wall_seconds");
  report.erase("peak_host_rss_bytes");
  for (auto& v : report["variants"]) v.erase("timing");
  return report;
}

TEST(RunConfig, ErrorsNameTheKey) {
  auto parse = [](const std::string& text) { return parse_run_config(nlohmann::json::parse(text), "c.json"); };
  const std::string model = R"("model": {"path": "m"}, "prompt": {"ids": [1, 2]})";
  EXPECT_NE(test::error_of([&] { parse(R"({)" + model + R"(, "polices": []})"); }).find("unknown key 'polices'"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({)" + model + R"(, "policies": [{"name": "snapkv", "budget": "big"}]})"); })
                .find("c.json: policies[0].budget: budget must be"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({)" + model + R"(, "policies": [{"name": "snapkv"}]})"); }).find("needs a budget"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({)" + model + R"(, "policies": [{"name": "snapkv", "budget": 64, "params": {"windw": 8}}]})"); })
                .find("unknown parameter 'windw'"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({)" + model + R"(, "policies": [{"name": "full"}, {"name": "full"}]})"); })
                .find("used twice"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({"model": {"path": "m", "dtype": 16}, "prompt": {"ids": [1]}, "policies": [{"name": "full"}]})"); })
                .find("c.json: model: key 'dtype' must be a string"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({"model": {"path": "m"}, "policies": [{"name": "full"}]})"); })
                .find("exactly one of 'datasets'"), std::string::npos);
  EXPECT_NE(test::error_of([&] { parse(R"({"model": {"path": "m"}, "datasets": {"names": ["squad"]}, "policies": [{"name": "full"}]})"); })
                .find("unknown LongBench subset 'squad'"), std::string::npos);
  // Groups expand, budgets multiply, --set overrides by dotted key.
  nlohmann::json j = nlohmann::json::parse(R"({"model": {"path": "m"}, "datasets": {"names": ["longbench16", "qasper_e"]},
                                               "policies": [{"name": "full"}, {"name": "adakv"}], "budgets": [64, {"evict": 0.9}]})");
  apply_overrides(j, {"model.dtype=bf16", "budgets=[128]", "datasets.limit=5", "name=sweep"});
  const RunConfig rc = parse_run_config(j, "c.json");
  EXPECT_EQ(rc.subsets.size(), 17u);
  EXPECT_EQ(rc.subsets.back(), "qasper_e");
  ASSERT_EQ(rc.variants.size(), 2u);
  EXPECT_EQ(rc.variants[1].name, "adakv-128");
  EXPECT_EQ(rc.dtype, "bf16");
  EXPECT_EQ(*rc.limit, 5u);
  EXPECT_EQ(rc.output_dir, "results/sweep");
}

TEST(Runner, ScoresEqualKvbenchScoreOnThePredictionFolders) {
  Bench b(4, 900);
  const auto r = test::run_kvbench("run --log-level warn --config " + b.config("r1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(test::read_file(b.dir.file("r1/report.json")));
  ASSERT_EQ(report["variants"].size(), 3u);
  for (const auto& v : report["variants"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    EXPECT_EQ(v["n"]["narrativeqa"], 4);
    EXPECT_EQ(v["errors"]["trec"], 0);
    const auto s = test::run_kvbench("score --pred-dir " + b.dir.file("r1/predictions/" + v["name"].get<std::string>()));
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_EQ(nlohmann::json::parse(s.out), v["scores"]);
    // The average is the mean of the subset scores; each category holds one subset here.
    EXPECT_DOUBLE_EQ(v["average"].get<double>(), (v["scores"]["narrativeqa"].get<double>() + v["scores"]["trec"].get<double>()) / 2);
    EXPECT_EQ(v["categories"]["single-doc QA"], v["scores"]["narrativeqa"]);
    EXPECT_EQ(v["categories"]["few-shot"], v["scores"]["trec"]);
  }
  EXPECT_EQ(report["variants"][1]["name"], "snapkv-48");
  EXPECT_LT(report["variants"][1]["kv_bytes"]["mean"].get<double>(), report["variants"][0]["kv_bytes"]["mean"].get<double>());
  // Prediction rows carry the official fields and ours.
  const std::string row_text = test::read_file(b.dir.file("r1/predictions/kvec-48/trec.jsonl"));
  const auto row = nlohmann::json::parse(row_text.substr(0, row_text.find('\n')));
  for (const char* key : {"pred", "answers", "all_classes", "length", "_id", "prompt_tokens", "kept_tokens", "kv_bytes", "coverage"})
    EXPECT_TRUE(row.contains(key)) << key;
  EXPECT_TRUE(paths::exists(b.dir.file("r1/manifest.json")));
  EXPECT_TRUE(paths::exists(b.dir.file("r1/config.resolved.json")));
  // A second run into the same folder refuses; --resume has nothing left to do and keeps the predictions.
  EXPECT_EQ(test::run_kvbench("run --log-level warn --config " + b.config("r1")).exit_code, 1);
  const std::string before = read_tree(b.dir.file("r1"), {"full", "snapkv-48", "kvec-48"}, {"narrativeqa", "trec"});
  EXPECT_EQ(test::run_kvbench("run --log-level warn --resume --config " + b.config("r1")).exit_code, 0);
  EXPECT_EQ(read_tree(b.dir.file("r1"), {"full", "snapkv-48", "kvec-48"}, {"narrativeqa", "trec"}), before);
}

TEST(Runner, KilledAndResumedEqualsUninterrupted) {
  Bench b(40, 1500);
  const std::vector<std::string> variants = {"full", "snapkv-48", "kvec-48"}, subsets = {"narrativeqa", "trec"};
  ASSERT_EQ(test::run_kvbench("run --log-level warn --config " + b.config("clean")).exit_code, 0);

  // Start the same run, kill -9 it once some rows are on disk, then resume.
  const std::string config = b.config("killed");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::freopen("/dev/null", "w", stdout);
    ::freopen("/dev/null", "w", stderr);
    ::execl(KVBENCH_BINARY, KVBENCH_BINARY, "run", "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string watched = b.dir.file("killed/predictions/kvec-48/narrativeqa.jsonl");
  for (int i = 0; i < 20000; ++i) {
    const std::string text = test::read_file(watched);
    if (std::count(text.begin(), text.end(), '\n') >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const std::string partial = read_tree(b.dir.file("killed"), variants, subsets);
  ASSERT_LT(partial.size(), read_tree(b.dir.file("clean"), variants, subsets).size());
  // A torn last line, as a kill in the middle of a write leaves it.
  test::write_file(watched, test::read_file(watched) + "{\"pred\": \"half a ro");

  const auto resumed = test::run_kvbench("run --log-level warn --resume --config " + config);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_tree(b.dir.file("killed"), variants, subsets), read_tree(b.dir.file("clean"), variants, subsets));
  auto clean = without_timing(nlohmann::json::parse(test::read_file(b.dir.file("clean/report.json"))));
  auto killed = without_timing(nlohmann::json::parse(test::read_file(b.dir.file("killed/report.json"))));
  clean.erase("run");
  killed.erase("run");
  EXPECT_EQ(killed, clean);
}

// Decoding a sample's variants together gives the predictions of decoding them one by one.
TEST(Runner, BatchedDecodeGivesTheSamePredictions) {
  Bench b(3, 1200);
  const std::vector<std::string> variants = {"full", "snapkv-48", "kvec-48"}, subsets = {"narrativeqa", "trec"};
  for (const char* mode : {"off", "on"}) {
    const auto r = test::run_kvbench("run --log-level warn --config " + b.config(std::string("batch_") + mode) +
                                     " --set model.batch_decode=" + mode);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(read_tree(b.dir.file("batch_on"), variants, subsets), read_tree(b.dir.file("batch_off"), variants, subsets));
  // snapkv and kvec (48 tokens) shared their decode; the full cache (~300 tokens) decoded alone.
  const auto first_row = [&](const std::string& run, const std::string& variant) {
    const std::string text = test::read_file(b.dir.file(run + "/timing/" + variant + "/narrativeqa.jsonl"));
    return nlohmann::json::parse(text.substr(0, text.find('\n')));
  };
  EXPECT_EQ(first_row("batch_on", "snapkv-48")["decode_batch_size"], 2);
  EXPECT_EQ(first_row("batch_on", "kvec-48")["decode_batch_size"], 2);
  EXPECT_EQ(first_row("batch_on", "full")["decode_batch_size"], 1);
  EXPECT_EQ(first_row("batch_off", "kvec-48")["decode_batch_size"], 1);
  EXPECT_NE(test::run_kvbench("run --dry-run --config " + b.config("bad_mode") + " --set model.batch_decode=maybe").err.find(
                "model.batch_decode"),
            std::string::npos);
}

// Evidence spans (characters of the context) become prompt token positions. With the byte-level tokenizer
// every byte is one token, so the expected positions are byte offsets in the formatted prompt (the
// narrativeqa template puts a fixed text before {context}), plus the one boundary token each span gains.
TEST(Runner, EvidenceSpansMapToPromptTokens) {
  Bench b(1, 100);
  const auto tok = load_tokenizer(b.model);
  const SubsetSpec& spec = find_subset("narrativeqa");
  Sample sample;
  sample.context = "aaaa NEEDLE bbbb \xc3\xa9\xc3\xa9 SECOND cccc";  // two 2-byte characters before SECOND
  sample.input = "q";
  sample.evidence = {{5, 11}, {22, 28}};  // byte offsets of NEEDLE and SECOND (the loader converts characters)
  const BuiltPrompt built = build_prompt(spec, sample, *tok, {});
  const std::size_t before = format_template(spec.prompt, sample.context, sample.input).find("aaaa NEEDLE");
  ASSERT_NE(before, std::string::npos);
  const auto spans = evidence_token_spans(spec, sample, *tok, built, 3500);
  ASSERT_EQ(spans.size(), 2u);
  const auto B = static_cast<std::int64_t>(before);
  EXPECT_EQ(spans[0], std::make_pair(B + 5 - 1, B + 11));
  EXPECT_EQ(spans[1], std::make_pair(B + 22 - 1, B + 28));
  for (const auto& [s, e] : spans)  // the tokens really spell the span (after the boundary token)
    EXPECT_TRUE(tok->decode({built.ids.begin() + s + 1, built.ids.begin() + e}, true) == "NEEDLE" ||
                tok->decode({built.ids.begin() + s + 1, built.ids.begin() + e}, true) == "SECOND");
  // Middle truncation to 2 x 20 tokens: the first span (near the start of the prompt) survives only if it
  // lies in the kept head; spans in the removed middle are dropped, never placed elsewhere.
  PromptOptions small;
  small.max_length = 40;
  const BuiltPrompt cut = build_prompt(spec, sample, *tok, small);
  ASSERT_TRUE(cut.truncated);
  for (const auto& [s, e] : evidence_token_spans(spec, sample, *tok, cut, 40)) {
    EXPECT_LT(s, e);
    EXPECT_LE(e, static_cast<std::int64_t>(cut.ids.size()));
  }
}

// Rows with evidence get evidence recall: 1 for the full cache; streaming with a small budget keeps only
// the sinks and the recent window, so evidence in the middle of a long context is lost.
TEST(Runner, EvidenceRecallInPredictions) {
  Bench b(1, 100);
  std::string context;
  while (context.size() < 600) context += "filler text goes here. ";
  const std::int64_t at = static_cast<std::int64_t>(context.size()) / 2;
  context.insert(static_cast<std::size_t>(at), "THE NEEDLE IS 4242. ");
  test::write_file(paths::join(b.data, "narrativeqa.jsonl"),
                   nlohmann::json{{"input", "What is the needle?"}, {"context", context}, {"answers", {"4242"}},
                                  {"length", 300}, {"all_classes", nullptr}, {"_id", "ev0"},
                                  {"evidence", {{at, at + 19}}}}.dump() + "\n");
  const std::string config = b.config("ev", R"(, "datasets": {"names": ["narrativeqa"], "data_dir": ")" + b.data + R"("},
      "policies": [{"name": "full"}, {"name": "streaming", "budget": 48}])");
  const auto r = test::run_kvbench("run --log-level warn --config " + config + " --set model.max_length=2000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto row_of = [&](const std::string& variant) {
    const std::string text = test::read_file(b.dir.file("ev/predictions/" + variant + "/narrativeqa.jsonl"));
    return nlohmann::json::parse(text.substr(0, text.find('\n')));
  };
  EXPECT_DOUBLE_EQ(row_of("full")["coverage"]["evidence_recall"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(row_of("streaming-48")["coverage"]["evidence_recall"].get<double>(), 0.0);
}

// datasets.synth: the run generates kvbench's synthetic tasks itself (deterministically, so a second run
// gives the same samples), with evidence spans for evidence recall.
TEST(Runner, GeneratesSyntheticTasks) {
  Bench b(1, 100);
  const std::string extra = R"(, "datasets": {"names": ["niah_single", "passkey"], "synth": {"tokens": 700, "count": 2, "seed": 3}},
      "policies": [{"name": "full"}])";
  for (const char* name : {"syn1", "syn2"}) {
    const auto r = test::run_kvbench("run --log-level warn --config " + b.config(name, extra) + " --set model.max_length=4000");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string preds = test::read_file(b.dir.file("syn1/predictions/full/niah_single.jsonl"));
  EXPECT_EQ(std::count(preds.begin(), preds.end(), '\n'), 2);
  EXPECT_EQ(preds, test::read_file(b.dir.file("syn2/predictions/full/niah_single.jsonl")));
  const auto row = nlohmann::json::parse(preds.substr(0, preds.find('\n')));
  EXPECT_NEAR(row["prompt_tokens"].get<double>(), 700, 14);
  EXPECT_DOUBLE_EQ(row["coverage"]["evidence_recall"].get<double>(), 1.0);
  EXPECT_EQ(row["_id"], "niah_single-700-s3-0000");
  // Only kvbench's generated tasks can be generated.
  const auto bad = test::run_kvbench("run --dry-run --config " +
                                     b.config("syn3", R"(, "datasets": {"names": ["trec"], "synth": {"tokens": 700}})"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("datasets.synth"), std::string::npos) << bad.err;
}

TEST(Runner, FailedSamplesAreRecordedAndDryRunLoadsNoModel) {
  TempDir dir;
  RandomModelSpec s;
  s.vocab_size = 64;
  write_random_checkpoint(dir.file("m"), s);
  // Token id 999 does not fit the vocabulary: the sample fails for every variant. The report is still written,
  // and a run in which every (variant, sample) failed exits non-zero naming the errors folder.
  test::write_file(dir.file("bad.json"), R"({"name": "bad", "output_dir": ")" + dir.file("bad") + R"(", "model": {"path": ")" +
                                             dir.file("m") + R"("}, "prompt": {"ids": [1, 2, 999]},
                                             "policies": [{"name": "full"}, {"name": "streaming", "budget": 8}]})");
  auto r = test::run_kvbench("run --log-level error --config " + dir.file("bad.json"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("every one of the 2 (variant, sample) pairs of this run failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir.file("bad/errors")), std::string::npos) << r.err;
  EXPECT_FALSE(test::read_file(dir.file("bad/report.json")).empty());
  const std::string errors = test::read_file(dir.file("bad/errors/streaming-8/prompt.jsonl"));
  EXPECT_NE(errors.find("outside the vocabulary"), std::string::npos) << errors;
  EXPECT_NE(r.out.find("2 failed samples"), std::string::npos) << r.out;
  r = test::run_kvbench("run --log-level error --fail-fast --set output_dir=\\\"" + dir.file("bad2") + "\\\" --config " + dir.file("bad.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
  // A dry run checks the checkpoint (a missing one is an error, as in the real run)...
  test::write_file(dir.file("dry.json"), R"({"model": {"path": "/nonexistent"}, "prompt": {"random_ids": {"tokens": 100}},
                                             "policies": [{"name": "snapkv"}, {"name": "h2o"}], "budgets": [16, 32]})");
  r = test::run_kvbench("run --dry-run --config " + dir.file("dry.json"));
  test::expect_one_error(r, "model directory '/nonexistent' does not exist");
  // ...but reads no weights: NaN weights pass a dry run and stop the real one when they load.
  std::map<std::string, at::Tensor> weights = write_random_checkpoint(dir.file("nan"), s);
  at::Tensor layer = weights.at("model.layers.0.mlp.down_proj.weight");
  std::vector<TensorToWrite> tensors;
  layer.index_put_({0, 0}, std::numeric_limits<float>::quiet_NaN());
  for (const auto& [name, t] : weights) tensors.push_back({name, DType::F32, t.sizes().vec(), t.data_ptr(), t.nbytes()});
  write_safetensors(dir.file("nan/model.safetensors"), tensors);
  test::write_file(dir.file("dry.json"), R"({"model": {"path": ")" + dir.file("nan") + R"("}, "output_dir": ")" +
                                             dir.file("dry") + R"(", "prompt": {"random_ids": {"tokens": 100}},
                                             "policies": [{"name": "snapkv"}, {"name": "h2o"}], "budgets": [16, 32]})");
  r = test::run_kvbench("run --dry-run --config " + dir.file("dry.json"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 variants: snapkv-16 snapkv-32 h2o-16 h2o-32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("100 prompt tokens"), std::string::npos) << r.out;
  r = test::run_kvbench("run --config " + dir.file("dry.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.layers.0.mlp.down_proj.weight holds NaN or infinite values"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kvbench

#include <dirent.h>

#include "harness/common/json_util.h"

namespace kvbench {
namespace {

TEST(RunConfig, ShippedConfigsParse) {
  const std::string dir = paths::join(KVBENCH_SOURCE_DIR, "configs");
  DIR* d = ::opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  int parsed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    SCOPED_TRACE(name);
    const RunConfig rc = parse_run_config(read_json_file(paths::join(dir, name), true), name);
    EXPECT_FALSE(rc.variants.empty());
    ++parsed;
  }
  ::closedir(d);
  EXPECT_GE(parsed, 4);
}

// Issue 18's dev/test discipline, as written into the study's configs: the dev rounds share one synthetic seed,
// the test split has another, and neither is a training seed of the demo model (docs/demo-model.md).
TEST(RunConfig, KvecStudySplitsAreDisjointAndHeldOut) {
  auto seed_of = [](const std::string& name) {
    const std::string path = paths::join(paths::join(KVBENCH_SOURCE_DIR, "configs"), name);
    const RunConfig rc = parse_run_config(read_json_file(path, true), name);
    EXPECT_TRUE(rc.synth.has_value()) << name;
    return rc.synth ? rc.synth->seed : 0;
  };
  const std::uint64_t dev = seed_of("kvec-study-dev.json"), test = seed_of("kvec-study-test.json");
  EXPECT_EQ(seed_of("kvec-study-dev-round2.json"), dev);
  EXPECT_NE(dev, test);
  for (const std::uint64_t training : {100010, 100011, 100012, 100013, 100014, 100015, 300001}) {
    EXPECT_NE(dev, training);
    EXPECT_NE(test, training);
  }
}

}  // namespace
}  // namespace kvbench
