// The kvbench binary end to end: version, model-info, generate (--json, --logits-out), run, and the exit
// codes and messages for bad input. Every failure must be one "error: ..." line and a non-zero exit.
#include <gtest/gtest.h>
#include <torch/version.h>


#include <nlohmann/json.hpp>

#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/safetensors.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {
using test::run_kvbench;
using test::TempDir;

RandomModelSpec cli_spec() {
  RandomModelSpec s;
  s.vocab_size = 80;
  s.hidden_size = 32;
  s.intermediate_size = 40;
  s.num_layers = 3;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seed = 5;
  return s;
}

// A clean failure: exit code 1, stderr ending in one "error:" line naming `needle`, nothing on stdout.
void expect_clean_failure(const test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto last_line = r.err.rfind('\n', r.err.size() >= 2 ? r.err.size() - 2 : 0);
  const std::string tail = last_line == std::string::npos ? r.err : r.err.substr(last_line + 1);
  EXPECT_EQ(tail.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Cli, Version) {
  const auto r = run_kvbench("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("kvbench 0.1.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("libtorch ") + TORCH_VERSION), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CUDA: "), std::string::npos) << r.out;
}

TEST(Cli, ModelInfo) {
  TempDir dir;
  write_random_checkpoint(dir.path(), cli_spec());
  auto r = run_kvbench("model-info --model " + dir.path() + " --json --dtype bf16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(info["layers"], 3);
  EXPECT_EQ(info["heads"], 4);
  EXPECT_EQ(info["kv_heads"], 2);
  EXPECT_EQ(info["head_dim"], 8);
  EXPECT_EQ(info["max_position_embeddings"], 4096);
  // 2 (K and V) x 3 layers x 2 KV heads x 8 dims x 2 bytes.
  EXPECT_EQ(info["kv_bytes_per_token"], 2 * 3 * 2 * 8 * 2);
  // embed + lm_head 2*80*32, final norm 32, per layer 2*32 norms + q 32*32 + k,v 2*16*32 + o 32*32 + 3*40*32.
  EXPECT_EQ(info["parameters"], 2 * 80 * 32 + 32 + 3 * (64 + 1024 + 1024 + 1024 + 3840));
  r = run_kvbench("model-info --model " + dir.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("KV bytes / token    384 (f32)"), std::string::npos) << r.out;
}

TEST(Cli, GenerateJsonMatchesTheLibrary) {
  TempDir dir;
  write_random_checkpoint(dir.path(), cli_spec());
  const std::vector<std::int64_t> prompt = {4, 8, 15, 16, 23, 42, 7, 7, 9, 60, 61, 3, 5, 8, 13, 21, 34, 55};
  std::string ids;
  for (auto id : prompt) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  for (const std::string policy : {"full", "streaming --budget 8 --policy-param sinks=2"}) {
    SCOPED_TRACE(policy);
    const auto r = run_kvbench("generate --model " + dir.path() + " --prompt-ids " + ids +
                               " --max-new 12 --ignore-eos --json --policy " + policy);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["prompt_ids"].get<std::vector<std::int64_t>>(), prompt);

    const auto model = Transformer::load(dir.path(), at::kCPU, at::kFloat);
    PolicySpec spec{policy == "full" ? "full" : "streaming"};
    if (policy != "full") {
      spec.budget = 8;
      spec.params = {{"sinks", 2}};
    }
    auto p = make_policy(spec);
    GenerateOptions gen;
    gen.max_new_tokens = 12;
    const auto expected = Engine(*model).generate(prompt, *p, {}, gen).output_ids;
    EXPECT_EQ(out["output_ids"].get<std::vector<std::int64_t>>(), expected);
    EXPECT_EQ(out["policy"], p->describe());
  }
}

TEST(Cli, GenerateStopsAtEosAndWritesLogits) {
  TempDir dir;
  write_random_checkpoint(dir.path(), cli_spec());
  const auto r = run_kvbench("generate --model " + dir.path() + " --prompt-ids 5,6,7,8,9 --max-new 6 --ignore-eos" +
                             " --json --logits-out " + dir.file("logits.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  SafetensorsFile logits(dir.file("logits.safetensors"));
  EXPECT_EQ(logits.at("prompt_logits").shape, (std::vector<std::int64_t>{5, 80}));
  EXPECT_EQ(logits.at("step_logits").shape, (std::vector<std::int64_t>{6, 80}));
  // Stopping on the third generated id ends generation right after its first occurrence.
  const auto free_run = out["output_ids"].get<std::vector<std::int64_t>>();
  const std::int64_t stop = free_run[2];
  const auto first = std::find(free_run.begin(), free_run.end(), stop) - free_run.begin();
  const auto s = run_kvbench("generate --model " + dir.path() + " --prompt-ids 5,6,7,8,9 --max-new 6 --json " +
                             "--stop-ids " + std::to_string(stop));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto stopped = nlohmann::json::parse(s.out);
  EXPECT_EQ(stopped["output_ids"].size(), static_cast<std::size_t>(first + 1));
  EXPECT_EQ(stopped["stop_reason"], "stop_token");
}

TEST(Cli, CorruptCheckpointsFailCleanly) {
  TempDir dir;
  const std::string model = dir.file("m");
  write_random_checkpoint(model, cli_spec());
  const std::string st = model + "/model.safetensors";
  const std::string raw = test::read_file(st);
  auto both = [&](const std::string& needle) {
    expect_clean_failure(run_kvbench("model-info --model " + model), needle);
    expect_clean_failure(run_kvbench("generate --model " + model + " --prompt-ids 1,2,3 --max-new 2"), needle);
  };

  test::write_file(st, raw.substr(0, raw.size() / 2));  // truncated
  both("point past the end of the data region");
  test::write_file(st, raw.substr(0, 6));  // truncated inside the length
  both("file is truncated");

  // Offsets past the end / wrong dtype size: edit the header in place (same length, so data stays aligned).
  std::string header_edit = raw;
  const std::string needle = "\"dtype\":\"F32\"";
  const auto pos = header_edit.find(needle);
  ASSERT_NE(pos, std::string::npos);
  header_edit.replace(pos, needle.size(), "\"dtype\":\"F16\"");  // same bytes, half the element size
  test::write_file(st, header_edit);
  both("bytes but shape");

  test::write_file(st, raw);
  const std::string offsets_key = "\"data_offsets\":[";
  std::string past = raw;
  const auto o = past.find(offsets_key);
  ASSERT_NE(o, std::string::npos);
  past.replace(o + offsets_key.size(), 1, "9");  // first begin offset gains a leading 9: far past the end
  test::write_file(st, past);
  both(st);

  // A missing shard of a sharded checkpoint.
  RandomModelSpec sharded = cli_spec();
  sharded.shards = 2;
  const std::string model2 = dir.file("sharded");
  write_random_checkpoint(model2, sharded);
  paths::remove_file(model2 + "/model-00001-of-00002.safetensors");
  expect_clean_failure(run_kvbench("model-info --model " + model2), "model-00001-of-00002.safetensors");
  expect_clean_failure(run_kvbench("generate --model " + model2 + " --prompt-ids 1 --max-new 1"),
                       "model-00001-of-00002.safetensors");
}

TEST(Cli, BadFlagsFailCleanly) {
  TempDir dir;
  write_random_checkpoint(dir.path(), cli_spec());
  const std::string gen = "generate --model " + dir.path() + " --max-new 2 ";
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,,2"), "--prompt-ids");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2,999"), "outside the vocabulary");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --policy h3o"), "unknown policy 'h3o'");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --policy streaming"), "needs a budget");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --policy streaming --budget 8 --policy-param sink=2"),
                       "unknown parameter 'sink'");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --dtype f8"), "unknown dtype 'f8'");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --device tpu"), "unknown device 'tpu'");
  expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --dtype f16"), "f16 is not supported on the CPU");
  expect_clean_failure(run_kvbench(gen + "--prompt hello"), "--prompt-ids");
  expect_clean_failure(run_kvbench("generate --model " + dir.file("nope") + " --prompt-ids 1"), "does not exist");
  if (!at::hasCUDA()) expect_clean_failure(run_kvbench(gen + "--prompt-ids 1,2 --device cuda"), "CUDA is not usable");
  // Usage errors (CLI11): non-zero and a message, no crash.
  const auto r = run_kvbench("generate --prompt-ids 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  EXPECT_NE(run_kvbench("frobnicate").exit_code, 0);
}

TEST(Cli, EmbeddedDefaultIsTheQuickstart) {
  // `kvbench run` alone plans the quickstart; from a folder without models/ it finds the demo model in the source
  // tree. The dry run generates the synthetic suite (with the model's tokenizer) but loads no weights.
  TempDir dir;
  const auto r = run_kvbench("run --dry-run", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("run quickstart -> results/quickstart"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string(KVBENCH_SOURCE_DIR) + "/models/kvbench-demo on cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("22 variants: full streaming-64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("20 samples"), std::string::npos) << r.out;
  EXPECT_FALSE(kvbench::paths::exists(dir.file("results")));
}

TEST(Cli, RunSmokeConfigAndConfigErrors) {
  TempDir dir;
  const auto r = run_kvbench("run --log-level warn --config " + std::string(KVBENCH_SOURCE_DIR) + "/configs/smoke.json",
                             dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(test::read_file(dir.file("results/smoke/report.json")));
  ASSERT_EQ(report["variants"].size(), 8u);
  EXPECT_EQ(report["variants"][0]["name"], "full");
  EXPECT_EQ(report["variants"][3]["name"], "streaming-512");
  auto row = [&](const std::string& variant) {
    return nlohmann::json::parse(test::read_file(dir.file("results/smoke/predictions/" + variant + "/prompt.jsonl")));
  };
  // streaming at a budget above the prompt length (384) evicts nothing: same tokens as full.
  EXPECT_EQ(row("streaming-512")["output_ids"], row("full")["output_ids"]);
  EXPECT_EQ(row("full")["output_ids"].size(), 32u);
  EXPECT_LT(row("streaming-64")["kv_bytes"].get<std::int64_t>(), row("full")["kv_bytes"].get<std::int64_t>());
  EXPECT_EQ(row("kvec-64")["kept_tokens"], 2 * 2 * 64);  // 2 layers x 2 KV heads x 64

  test::write_file(dir.file("bad.json"), R"({"name": "x", "model": {"random": {}, "dtyp": "f32"},
                                            "prompt": {"ids": [1, 2]}, "policies": [{"name": "full"}]})");
  expect_clean_failure(run_kvbench("run --config " + dir.file("bad.json"), dir.path()), "unknown key 'dtyp'");
  test::write_file(dir.file("bad2.json"), R"({"name": "x", "model": {"random": {}}, "prompt": {"ids": [1, 2]},
                                             "policies": [{"name": "streaming", "budget": "big"}]})");
  expect_clean_failure(run_kvbench("run --config " + dir.file("bad2.json"), dir.path()), "budget must be an integer");
}

}  // namespace
}  // namespace kvbench
