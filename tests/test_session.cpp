// One setup for every command (harness/runner/session.h): `kvbench run` and `kvbench generate` on the same
// model choose the same device, dtype, tokenizer, chat format and stop ids, and give the same coverage
// statistics (and tokens) for the same prompt, policy and window: both resolve through one Session.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/model/random_checkpoint.h"
#include "harness/runner/session.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {
using test::run_kvbench;
using test::TempDir;

const char* const kResolved[] = {"device", "dtype", "tokenizer", "chat_format", "stop_ids", "stop_ids_with_chat"};

std::string id_list(std::int64_t n) {
  std::string ids;
  for (std::int64_t i = 0; i < n; ++i) ids += (i ? "," : "") + std::to_string(5 + (i * 37) % 1000);
  return ids;
}

// Runs `kvbench run` on a raw prompt and `kvbench generate` on the same ids; returns (manifest session,
// prediction row, generate's JSON).
struct Both {
  nlohmann::json session, row, generate;
};

// `generate_prompt`: generate's prompt flags (the run always feeds `ids` as a raw prompt).
Both run_both(const TempDir& dir, const std::string& model, const std::string& ids, const std::string& generate_prompt) {
  test::write_file(dir.file("c.json"), R"({"name": "agree", "output_dir": ")" + dir.file("run") + R"(",
    "model": {"path": ")" + model + R"(", "chat": "auto"}, "prompt": {"ids": [)" + ids + R"(]},
    "max_new_tokens": 6, "policies": [{"name": "snapkv", "budget": 64}]})");
  const auto r = run_kvbench("--log-level error run --config " + dir.file("c.json"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto g = run_kvbench("--log-level error generate --model " + model + " " + generate_prompt +
                             " --chat auto --max-new 6 --policy snapkv --budget 64 --json --no-kept");
  EXPECT_EQ(g.exit_code, 0) << g.err;
  Both b;
  b.session = read_json_file(dir.file("run/manifest.json"))["sessions"].back();
  b.row = nlohmann::json::parse(test::read_file(dir.file("run/predictions/snapkv-64/prompt.jsonl")));
  b.generate = nlohmann::json::parse(g.out.substr(g.out.rfind("\n{") == std::string::npos ? 0 : g.out.rfind("\n{") + 1));
  return b;
}

TEST(Session, RunAndGenerateAgreeOnTheDemoModel) {
  TempDir dir;
  const std::string model = std::string(KVBENCH_SOURCE_DIR) + "/models/kvbench-demo";
  const std::string ids = id_list(300);
  const Both b = run_both(dir, model, ids, "--prompt-ids " + ids);
  for (const char* key : kResolved) EXPECT_EQ(b.session[key], b.generate[key]) << key;
  EXPECT_EQ(b.session["tokenizer"], model);  // the checkpoint's own tokenizer.model
  EXPECT_EQ(b.session["dtype"], "f32");      // auto on the CPU
  EXPECT_FALSE(b.session["stop_ids"].empty());
  EXPECT_EQ(b.row["coverage"], b.generate["coverage"]);  // one coverage_of, the same default window
  EXPECT_EQ(b.row["output_ids"], b.generate["output_ids"]);
}

TEST(Session, RunAndGenerateDetectTheSameChatFormat) {
  KVBENCH_REQUIRE_SHARED();
  TempDir dir;
  RandomModelSpec s;
  s.vocab_size = 128256;  // Llama-3's ids (its BOS is 128000)
  s.tie_word_embeddings = true;
  s.hidden_size = 32;
  s.intermediate_size = 48;
  s.num_layers = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  write_random_checkpoint(dir.file("m"), s);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    test::write_file(dir.file(std::string("m/") + f), test::read_file(test::shared_path(std::string("data/tokenizers/llama3_hf/") + f)));
  // A recognised template applies to text prompts: generate gets text here, so only the choices are compared.
  const Both b = run_both(dir, dir.file("m"), id_list(200), "--prompt Hello");
  for (const char* key : kResolved) EXPECT_EQ(b.session[key], b.generate[key]) << key;
  EXPECT_NE(b.session["chat_format"], "none");  // Llama-3's template, recognised from tokenizer_config.json
  EXPECT_GT(b.session["stop_ids_with_chat"].size(), b.session["stop_ids"].size()) << "the end-of-turn token";
}

TEST(Session, DtypeAutoFollowsTheDeviceAndTheCheckpoint) {
  const at::Device cuda("cuda");
  EXPECT_EQ(resolve_compute_dtype("auto", at::kCPU, "bfloat16", true), at::kFloat);
  EXPECT_EQ(resolve_compute_dtype("auto", cuda, "float16", true), at::kHalf);
  EXPECT_EQ(resolve_compute_dtype("auto", cuda, "bfloat16", true), at::kBFloat16);
  EXPECT_EQ(resolve_compute_dtype("auto", cuda, "float32", true), at::kBFloat16);
  EXPECT_EQ(resolve_compute_dtype("bf16", at::kCPU, "float32", true), at::kBFloat16);
  // A GPU before compute capability 8.0 has no bf16: auto takes f16, bf16 named is refused.
  EXPECT_EQ(resolve_compute_dtype("auto", cuda, "bfloat16", false), at::kHalf);
  EXPECT_EQ(resolve_compute_dtype("f32", cuda, "bfloat16", false), at::kFloat);
  EXPECT_NE(test::error_of([&] { resolve_compute_dtype("bf16", cuda, "bfloat16", false); }).find("compute capability 8.0"),
            std::string::npos);
}

}  // namespace
}  // namespace kvbench
