// Issue 16: bad input is refused up front with the key and the numbers, --dry-run checks what the run checks,
// meaningless inputs are errors, names from configs stay inside the run's folder, one variant's failure costs no
// other variant its sample, and messages carry no libtorch frames, source paths or raw bytes.
// (Process faults, signals and low memory: tests/robustness_test.sh.)
#include <gtest/gtest.h>
#include <dirent.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/jsonl.h"
#include "harness/common/paths.h"
#include "harness/model/model_config.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/safetensors.h"
#include "harness/report/run_layout.h"
#include "harness/runner/run_config.h"
#include "harness/tokenizer/tokenizer.h"
#include "harness/tokenizer/sentencepiece_tokenizer.h"
#include "datasets/loader.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::TempDir;

nlohmann::json small_model_config() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 64}, {"hidden_size", 32}, {"intermediate_size", 64},
          {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"max_position_embeddings", 512}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}};
}

std::string model_config_error(const std::string& key, const nlohmann::json& value) {
  nlohmann::json c = small_model_config();
  c[key] = value;
  return test::error_of([&] { parse_model_config(c, "m/config.json"); });
}

// A raw-prompt run on a random model, written into `dir`, with `edit` applied to the JSON.
std::string smoke_config(const TempDir& dir, const std::string& name, const std::function<void(nlohmann::json&)>& edit = {}) {
  nlohmann::json c = {
      {"name", name},
      {"output_dir", dir.file(name)},
      {"model", {{"random", {{"layers", 2}, {"hidden", 32}, {"heads", 4}, {"kv_heads", 2}, {"vocab", 128}}}}},
      {"prompt", {{"random_ids", {{"tokens", 64}, {"count", 2}, {"seed", 1}}}}},
      {"max_new_tokens", 6},
      {"policies", {{{"name", "full"}}, {{"name", "streaming"}, {"budget", 16}}, {{"name", "snapkv"}, {"budget", 24}}}}};
  if (edit) edit(c);
  const std::string path = dir.file(name + ".json");
  test::write_file(path, c.dump());
  return path;
}

std::string run_config_error(const std::function<void(nlohmann::json&)>& edit) {
  TempDir dir;
  const std::string path = smoke_config(dir, "r", edit);
  return test::error_of([&] { parse_run_config(nlohmann::json::parse(test::read_file(path)), "r.json"); });
}

// Rows of a run's files, by variant: `_id` -> row (timings live elsewhere, so rows compare exactly).
std::map<std::string, std::map<std::string, nlohmann::json>> rows_of(const std::string& dir, const std::string& kind) {
  std::map<std::string, std::map<std::string, nlohmann::json>> out;
  for (const std::string v : {"full", "streaming-16", "snapkv-24"})
    for (const auto& row : read_jsonl_rows(paths::join(dir, kind + "/" + v + "/prompt.jsonl")))
      out[v][row["_id"].get<std::string>()] = row;
  return out;
}

// Every path under `dir`, recursively (what a refused run must not have added to).
std::set<std::string> entries_of(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = paths::join(dir, name);
      out.insert(path);
      if (paths::is_directory(path))
        for (const auto& p : entries_of(path)) out.insert(p);
    }
    ::closedir(d);
  }
  return out;
}

// Sets an environment variable for the life of the object (the kvbench processes started meanwhile see it).
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name); }
  const char* name;
};

TEST(RobustnessSizes, ModelConfigSizesAreBoundedAndNamed) {
  EXPECT_NE(model_config_error("vocab_size", 1'000'000'000'000LL).find("vocab_size must be between 1 and 16777216, got 1000000000000"),
            std::string::npos);
  EXPECT_NE(model_config_error("num_hidden_layers", 100000).find("num_hidden_layers must be between 1 and 4096"), std::string::npos);
  EXPECT_NE(model_config_error("hidden_size", -4).find("hidden_size must be between 1 and"), std::string::npos);
  EXPECT_NE(model_config_error("max_position_embeddings", 1'000'000'000'000'000LL).find("max_position_embeddings must be between"),
            std::string::npos);
  EXPECT_NE(model_config_error("head_dim", 1 << 20).find("head_dim must be between 1 and 65536"), std::string::npos);
  EXPECT_EQ(model_config_error("vocab_size", 64), "<no error>");
}

TEST(RobustnessSizes, RunConfigSizesAreBoundedAndNamed) {
  EXPECT_NE(run_config_error([](auto& c) { c["prompt"]["random_ids"]["tokens"] = 1'000'000'000'000LL; })
                .find("prompt.random_ids.tokens must be between 1 and 16777216, got 1000000000000"),
            std::string::npos);
  EXPECT_NE(run_config_error([](auto& c) { c["prompt"]["random_ids"]["count"] = 1'000'000'000'000LL; })
                .find("prompt.random_ids.count must be between 1 and 1000000"),
            std::string::npos);
  EXPECT_NE(run_config_error([](auto& c) { c["max_new_tokens"] = 1LL << 40; }).find("'max_new_tokens' must be between 1 and"),
            std::string::npos);
  EXPECT_NE(run_config_error([](auto& c) { c["warmup_tokens"] = 1LL << 40; }).find("'warmup_tokens' must be between 0 and"),
            std::string::npos);
  EXPECT_NE(run_config_error([](auto& c) { c["model"]["max_length"] = 1LL << 40; }).find("model.max_length must be between 2 and"),
            std::string::npos);
  EXPECT_NE(run_config_error([](auto& c) {
              c.erase("prompt");
              c["datasets"] = {{"names", {"synth"}}, {"synth", {{"tokens", 1 << 20}, {"count", 100000}}}};
            }).find("datasets.synth.tokens x count (1048576 x 100000) must be at most"),
            std::string::npos);
}

TEST(RobustnessSizes, LengthsAreCheckedAgainstTheModelAndTheMemoryBeforeAnything) {
  TempDir dir;
  // The random model has 4096 positions; 8x that is the most kvbench accepts.
  auto r = test::run_kvbench("run --dry-run --config " + smoke_config(dir, "a", [](auto& c) { c["max_new_tokens"] = 40000; }));
  test::expect_one_error(r, "max_new_tokens: 40064 positions is more than 8x this model's max_position_embeddings (4096)");
  r = test::run_kvbench("run --config " + smoke_config(dir, "b", [](auto& c) { c["warmup_tokens"] = 100000; }));
  test::expect_one_error(r, "warmup_tokens: 100000 positions is more than 8x");
  EXPECT_FALSE(paths::exists(dir.file("b"))) << "the refused run wrote its folder";
  // A random model far beyond any machine's memory: refused with the numbers before a byte is allocated.
  r = test::run_kvbench("run --config " + smoke_config(dir, "c", [](auto& c) {
                          c["model"]["random"] = {{"layers", 4000}, {"hidden", 200000}, {"heads", 1000}, {"kv_heads", 1000},
                                                  {"intermediate", 1000000}, {"vocab", 1000000}};
                        }));
  test::expect_one_error(r, "model.random (");
  EXPECT_NE(r.err.find("parameters) needs about"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GiB on cpu, which has"), std::string::npos) << r.err;
}

TEST(RobustnessDryRun, RefusesWhatTheRunRefuses) {
  TempDir dir;
  RandomModelSpec s;
  s.vocab_size = 64;
  std::map<std::string, at::Tensor> weights = write_random_checkpoint(dir.file("m"), s);
  // A checkpoint whose header disagrees with its config: one tensor of the wrong shape.
  write_random_checkpoint(dir.file("bad"), s);
  std::vector<TensorToWrite> tensors;
  const at::Tensor wrong = at::zeros({3, 5});
  for (const auto& [name, t] : weights) {
    const at::Tensor& x = name == "model.norm.weight" ? wrong : t;
    tensors.push_back({name, DType::F32, x.sizes().vec(), x.data_ptr(), x.nbytes()});
  }
  write_safetensors(dir.file("bad/model.safetensors"), tensors);
  const std::string demo_tokenizer = paths::join(KVBENCH_SOURCE_DIR, "models/kvbench-demo/tokenizer.model");
  struct Case {
    std::string what;
    std::function<void(nlohmann::json&)> edit;
    std::string needle;
  };
  const std::string m = dir.file("m");
  const std::vector<Case> cases = {
      {"device", [&](auto& c) { c["model"] = {{"path", m}, {"device", "cuda:7"}}; }, "cuda:7"},
      {"dtype", [&](auto& c) { c["model"] = {{"path", m}, {"dtype", "f8"}}; }, "f8"},
      {"chat", [&](auto& c) { c["model"] = {{"path", m}, {"tokenizer", demo_tokenizer}, {"chat", "klingon"}}; }, "klingon"},
      {"policy params", [&](auto& c) { c["policies"] = {{{"name", "snapkv"}, {"budget", 8}, {"params", {{"window", -3}}}}}; }, "window"},
      {"lengths", [&](auto& c) { c["model"] = {{"path", m}}; c["max_new_tokens"] = 40000; }, "max_new_tokens: 40064 positions"},
      {"dataset ids",
       [&](auto& c) {
         c["model"] = {{"path", m}, {"tokenizer", demo_tokenizer}};
         c.erase("prompt");
         c["datasets"] = {{"names", {"passkey"}}, {"ids", {"no-such-id"}}, {"synth", {{"tokens", 200}, {"count", 2}}}};
       },
       "datasets.ids: 1 of 1 ids are in none of the selected subsets ('no-such-id')"},
      {"checkpoint", [&](auto& c) { c["model"] = {{"path", dir.file("bad")}}; }, "model.norm.weight"},
      {"missing checkpoint", [&](auto& c) { c["model"] = {{"path", dir.file("nothing")}}; }, "does not exist"},
  };
  int n = 0;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    const std::string config = smoke_config(dir, "case" + std::to_string(n++), [&](auto& c) {
      c["model"] = {{"path", m}};
      k.edit(c);
    });
    const auto dry = test::run_kvbench("run --dry-run --log-level error --config " + config);
    test::expect_one_error(dry, k.needle);
    const auto real = test::run_kvbench("run --log-level error --config " + config);
    test::expect_one_error(real, k.needle);
    EXPECT_EQ(dry.err, real.err);
  }
  // An existing run without --resume: refused by the dry run as by the run, before anything is written.
  const std::string config = smoke_config(dir, "done", [&](auto& c) { c["model"] = {{"path", m}}; });
  ASSERT_EQ(test::run_kvbench("run --log-level error --config " + config).exit_code, 0);
  test::expect_one_error(test::run_kvbench("run --dry-run --config " + config), "already holds a run: pass --resume");
  EXPECT_EQ(test::run_kvbench("run --dry-run --resume --config " + config).exit_code, 0);
}

TEST(RobustnessMeaningless, NonsenseNumbersAreErrors) {
  EXPECT_NE(model_config_error("rms_norm_eps", 0.0).find("rms_norm_eps must be a positive number, got 0"), std::string::npos);
  EXPECT_NE(model_config_error("rms_norm_eps", -1e-6).find("rms_norm_eps must be a positive number"), std::string::npos);
  EXPECT_NE(model_config_error("rope_theta", 0.0).find("rope_theta must be a positive number"), std::string::npos);
  EXPECT_NE(model_config_error("rope_theta", -10000.0).find("rope_theta must be a positive number"), std::string::npos);
  EXPECT_NE(model_config_error("rope_theta", std::numeric_limits<double>::infinity()).find("rope_theta must be a positive number"),
            std::string::npos);
  nlohmann::json c = small_model_config();
  c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.0}};
  EXPECT_NE(test::error_of([&] { parse_model_config(c, "m/config.json"); }).find("rope_scaling.factor must be a positive number"),
            std::string::npos);
}

TEST(RobustnessMeaningless, EmptyVocabularyIsAnError) {
  TempDir dir;
  test::write_file(dir.file("tokenizer.json"), R"({"model": {"type": "BPE", "vocab": {}, "merges": []}})");
  const std::string e = test::error_of([&] { load_tokenizer(dir.file("tokenizer.json")); });
  EXPECT_NE(e.find("empty vocabulary"), std::string::npos) << e;
  EXPECT_NE(e.find(dir.file("tokenizer.json")), std::string::npos) << e;
}

TEST(RobustnessMeaningless, NonFiniteWeightsAreRefusedOnLoad) {
  TempDir dir;
  RandomModelSpec s;
  s.vocab_size = 64;
  std::map<std::string, at::Tensor> weights = write_random_checkpoint(dir.file("m"), s);
  const std::string m = dir.file("m");
  ASSERT_EQ(test::run_kvbench("run --log-level error --config " + smoke_config(dir, "ok", [&](auto& c) { c["model"] = {{"path", m}}; }))
                .exit_code, 0);
  // One NaN in one layer's weight, one inf in another checkpoint: the run refuses with the tensor's name.
  for (const auto& [bad, value] : std::vector<std::pair<std::string, float>>{
           {"model.layers.1.mlp.down_proj.weight", std::numeric_limits<float>::quiet_NaN()},
           {"model.norm.weight", std::numeric_limits<float>::infinity()}}) {
    SCOPED_TRACE(bad);
    std::vector<at::Tensor> keep;
    std::vector<TensorToWrite> tensors;
    for (const auto& [name, t] : weights) {
      at::Tensor x = t.clone();
      if (name == bad) x.view(-1)[x.numel() / 2] = value;
      keep.push_back(x);
      tensors.push_back({name, DType::F32, x.sizes().vec(), x.data_ptr(), x.nbytes()});
    }
    write_safetensors(dir.file("m/model.safetensors"), tensors);
    const auto r = test::run_kvbench("run --log-level error --config " +
                                     smoke_config(dir, "nan", [&](auto& c) { c["model"] = {{"path", m}}; }));
    test::expect_one_error(r, m + ": tensor " + bad + " holds NaN or infinite values");
    EXPECT_FALSE(paths::exists(dir.file("nan/report.json")));
  }
}

TEST(RobustnessMeaningless, ARunThatSelectsNothingIsAnError) {
  TempDir dir;
  const std::string demo_tokenizer = paths::join(KVBENCH_SOURCE_DIR, "models/kvbench-demo/tokenizer.model");
  // LongBench rows that are all malformed, skipped: zero samples, not an empty table with exit 0.
  test::write_file(dir.file("data/trec.jsonl"), "{\"not\": \"a sample\"}\n{\"input\": 3}\n");
  const std::string config = smoke_config(dir, "empty", [&](auto& c) {
    c["model"]["tokenizer"] = demo_tokenizer;
    c.erase("prompt");
    c["datasets"] = {{"names", {"trec"}}, {"data_dir", dir.file("data")}, {"skip_bad_rows", true}};
  });
  auto r = test::run_kvbench("run --log-level error --config " + config);
  test::expect_one_error(r, "the run selects no samples (2 malformed rows were skipped and none was usable)");
  r = test::run_kvbench("run --log-level error --dry-run --config " + config);
  test::expect_one_error(r, "the run selects no samples");
}

TEST(RobustnessPaths, NamesFromConfigsStayInsideTheRunFolder) {
  TempDir dir;
  const std::vector<std::pair<std::function<void(nlohmann::json&)>, std::string>> cases = {
      {[](auto& c) { c["name"] = ".."; c.erase("output_dir"); }, "'name' must be a plain name"},
      {[](auto& c) { c["name"] = "a/../../b"; c.erase("output_dir"); }, "'name' must be a plain name"},
      {[](auto& c) { c["policies"] = {{{"name", "full"}, {"label", "../../escaped"}}}; }, "the variant name (label and budget)"},
      {[](auto& c) { c["policies"] = {{{"name", "full"}, {"label", ".."}}}; }, "the variant name"},
      {[](auto& c) { c["policies"] = {{{"name", "full"}, {"label", "."}}}; }, "the variant name"},
      {[](auto& c) { c["policies"] = {{{"name", "full"}, {"label", ""}}}; }, "the variant name"},
      {[](auto& c) { c["policies"] = {{{"name", "streaming"}, {"label", "x/.."}, {"budget", 8}}}; }, "the variant name"},
      {[](auto& c) { c["policies"] = {{{"name", "full"}, {"label", "new\nline"}}}; }, "control characters"},
  };
  for (const auto& [edit, needle] : cases) {
    const std::string config = smoke_config(dir, "p", edit);
    const auto before = entries_of(dir.path());
    test::expect_one_error(test::run_kvbench("run --log-level error --config " + config, dir.path()), needle);
    EXPECT_EQ(entries_of(dir.path()), before) << "a refused run wrote something";
  }
  // The run layout refuses such names whatever their origin (a merged shard's files, a hand-edited report).
  const RunLayout layout(dir.file("run"));
  EXPECT_NE(test::error_of([&] { layout.predictions("../x", "trec"); }).find("a variant name must be a plain name"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { layout.errors("full", "../../etc/passwd"); }).find("a subset name"), std::string::npos);
  EXPECT_EQ(layout.timing("full", "trec"), dir.file("run/timing/full/trec.jsonl"));
}

TEST(RobustnessIsolation, OneVariantsFailureKeepsTheOthersResults) {
  TempDir dir;
  const std::string clean = smoke_config(dir, "clean");
  ASSERT_EQ(test::run_kvbench("run --log-level error --config " + clean).exit_code, 0);
  const auto reference = rows_of(dir.file("clean"), "predictions");
  ASSERT_EQ(reference.at("full").size(), 2u);
  {
    // An out-of-memory while streaming-16 chooses its first layer (policy pass 2 of sample 0), and a budget that
    // holds less than one token (every sample of that variant): only those pairs fail.
    ScopedEnv fault("KVBENCH_FAULT", "oom@policy#2");
    const std::string config = smoke_config(dir, "faulty", [](auto& c) {
      c["policies"].push_back({{"name", "h2o"}, {"budget", {{"kv_bytes", 10}}}});
    });
    const auto r = test::run_kvbench("run --log-level error --config " + config);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const auto rows = rows_of(dir.file("faulty"), "predictions");
    EXPECT_EQ(rows.at("full"), reference.at("full"));
    EXPECT_EQ(rows.at("snapkv-24"), reference.at("snapkv-24"));
    EXPECT_EQ(rows.at("streaming-16").size(), 1u);
    EXPECT_EQ(rows.at("streaming-16").at("prompt-1"), reference.at("streaming-16").at("prompt-1"));
    const auto errors = read_jsonl_rows(dir.file("faulty/errors/streaming-16/prompt.jsonl"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0]["_id"], "prompt-0");
    EXPECT_NE(errors[0]["error"].get<std::string>().find("CUDA out of memory"), std::string::npos);
    EXPECT_EQ(read_jsonl_rows(dir.file("faulty/errors/h2o-kv10/prompt.jsonl")).size(), 2u);
    EXPECT_NE(r.out.find("(3 failed samples)"), std::string::npos) << r.out;
  }
  {
    // A batched decode that runs out of memory is retried variant by variant: nothing is lost...
    ScopedEnv fault("KVBENCH_FAULT", "oom@decode#1");
    const std::string config = smoke_config(dir, "batch", [](auto& c) { c["model"]["batch_decode"] = "on"; });
    EXPECT_EQ(test::run_kvbench("run --log-level error --config " + config).exit_code, 0);
    EXPECT_EQ(rows_of(dir.file("batch"), "predictions"), reference);
  }
  {
    // ...and when one variant's own decode fails too, only that variant loses the sample.
    ScopedEnv fault("KVBENCH_FAULT", "oom@decode#1,oom@decode#3");
    const std::string config = smoke_config(dir, "batch2", [](auto& c) { c["model"]["batch_decode"] = "on"; });
    EXPECT_EQ(test::run_kvbench("run --log-level error --config " + config).exit_code, 0);
    const auto rows = rows_of(dir.file("batch2"), "predictions");
    EXPECT_EQ(rows.at("full"), reference.at("full"));
    EXPECT_EQ(rows.at("snapkv-24"), reference.at("snapkv-24"));
    EXPECT_EQ(rows.at("streaming-16").count("prompt-0"), 0u);
    EXPECT_EQ(read_jsonl_rows(dir.file("batch2/errors/streaming-16/prompt.jsonl")).size(), 1u);
  }
  ScopedEnv bad("KVBENCH_FAULT", "oom@decode");
  test::expect_one_error(test::run_kvbench("run --log-level error --config " + smoke_config(dir, "badfault")),
                         "KVBENCH_FAULT: 'oom@decode' is not of the form oom@SITE#N");
  ScopedEnv unknown("KVBENCH_FAULT", "oom@prefil#1");
  test::expect_one_error(test::run_kvbench("run --log-level error --config " + smoke_config(dir, "badsite")),
                         "unknown site 'prefil'");
}

// No libtorch backtrace, source location or raw byte in a message.
void expect_clean(const std::string& text) {
  EXPECT_EQ(text.find("Exception raised from"), std::string::npos) << text;
  EXPECT_EQ(text.find("frame #"), std::string::npos) << text;
  EXPECT_EQ(text.find(".cpp:"), std::string::npos) << text;
  EXPECT_EQ(text.find("last read"), std::string::npos) << text;
  for (unsigned char ch : text) EXPECT_TRUE(ch == '\n' || (ch >= 0x20 && ch < 0x7f)) << "byte " << int(ch) << " in " << text;
}

TEST(RobustnessMessages, NoFramesPathsOrRawBytes) {
  TempDir dir;
  {
    ScopedEnv fault("KVBENCH_FAULT", "oom@prefill#1");
    const auto r = test::run_kvbench("run --config " + smoke_config(dir, "oom"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string errors = test::read_file(dir.file("oom/errors/full/prompt.jsonl"));
    EXPECT_NE(errors.find("CUDA out of memory"), std::string::npos) << errors;
    expect_clean(errors);
    expect_clean(r.err);
  }
  // Binary garbage where kvbench expects JSON or a checkpoint: the message names the file, not its bytes.
  std::string garbage = "\x89PNG\r\n\x1a\n\xff\xfe\x00\x01{\"\xc3\x28 \x1b[31m";
  garbage += std::string(64, '\xee');
  test::write_file(dir.file("g/config.json"), garbage);
  test::write_file(dir.file("t/tokenizer.json"), garbage);
  test::write_file(dir.file("s/model.safetensors"), std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8) + garbage);
  test::write_file(dir.file("g.json"), garbage);
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"model-info --model " + dir.file("g"), dir.file("g/config.json")},
      {"tokenize --tokenizer " + dir.file("t/tokenizer.json") + " --text hi", dir.file("t/tokenizer.json")},
      {"run --config " + dir.file("g.json"), dir.file("g.json")},
      {"score --pred " + dir.file("g.json") + " --dataset trec", dir.file("g.json")},
  };
  for (const auto& [command, file] : commands) {
    SCOPED_TRACE(command);
    const auto r = test::run_kvbench(command);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    expect_clean(r.err);
  }
  const std::string e = test::error_of([&] { SafetensorsFile f(dir.file("s/model.safetensors")); });
  EXPECT_NE(e.find(dir.file("s/model.safetensors") + ": header"), std::string::npos) << e;
  expect_clean(e);
}

TEST(RobustnessMessages, ShortErrorMessageCutsBacktracesAndEscapesBytes) {
  const Error e("CUDA out of memory. Tried to allocate 2.00 GiB\nException raised from malloc at /pytorch/c10/cuda/"
                "CUDACachingAllocator.cpp:1234 (most recent call first):\nframe #0: c10::Error::Error()");
  EXPECT_EQ(short_error_message(e), "CUDA out of memory. Tried to allocate 2.00 GiB");
  EXPECT_EQ(short_error_message(Error("bad byte \xff here, fine UTF-8 \xc3\xa9, escape \x1b")),
            "bad byte \\xff here, fine UTF-8 \xc3\xa9, escape \\x1b");
  EXPECT_EQ(short_error_message(Error("")), "unknown error");
  EXPECT_EQ(short_error_message(std::bad_alloc()).rfind("out of host memory", 0), 0u);
  EXPECT_LT(short_error_message(Error(std::string(100000, 'x'))).size(), 500u);
  try {
    (void)nlohmann::json::parse("{\"a\": \xff\xfe secret");
    FAIL() << "parsed";
  } catch (const nlohmann::json::exception& je) {
    const std::string text = json_error_text(je);
    EXPECT_EQ(text.find("secret"), std::string::npos) << text;
    EXPECT_EQ(text.find("[json.exception"), std::string::npos) << text;
    EXPECT_NE(text.find("line 1"), std::string::npos) << text;
  }
}

// Inputs that tests/fuzz found crashing kvbench (std::terminate on an exception that was not a kvbench::Error):
// each must now be refused with an error that names the file.
TEST(RobustnessFuzzFindings, CrashInputsAreCleanErrors) {
  TempDir dir;
  const std::string data = paths::join(KVBENCH_SOURCE_DIR, "tests/data/fuzz");
  const auto copy = [&](const std::string& from, const std::string& to) {
    test::write_file(dir.file(to), test::read_file(paths::join(data, from)));
    return dir.file(to);
  };
  // A number too large for a double ("999...e999..."): nlohmann throws out_of_range, not parse_error.
  const std::string config = copy("model_config-number-overflow.json", "m/config.json");
  std::string e = test::error_of([&] { load_model_config(dir.file("m")); });
  EXPECT_NE(e.find(config + ": invalid JSON at column "), std::string::npos) << e;
  EXPECT_NE(e.find("(number overflow)"), std::string::npos) << e;
  const std::string header = copy("safetensors-number-overflow.safetensors", "s/model.safetensors");
  e = test::error_of([&] { SafetensorsFile f(header); });
  EXPECT_NE(e.find(header + ": header: invalid JSON at column "), std::string::npos) << e;
  EXPECT_NE(e.find("(number overflow)"), std::string::npos) << e;
  e = test::error_of([&] { parse_sample("{\"input\": 1e99999}", dir.file("row.jsonl"), 1); });
  EXPECT_NE(e.find(dir.file("row.jsonl") + ":1: invalid JSON at column "), std::string::npos) << e;
  EXPECT_NE(e.find("(number overflow)"), std::string::npos) << e;
  // A SentencePiece model whose trie gets a zero-length key: darts-clone throws inside libsentencepiece.
  const std::string spm = copy("sentencepiece-zero-length-key.model", "t/tokenizer.model");
  e = test::error_of([&] { load_sentencepiece_tokenizer(spm, TokenizerConfig{}); });
  EXPECT_NE(e.find(spm), std::string::npos) << e;
  EXPECT_NE(e.find("zero-length key"), std::string::npos) << e;
  EXPECT_EQ(e.find("darts.h"), std::string::npos) << e;
  expect_clean(e);
}

}  // namespace
}  // namespace kvbench
