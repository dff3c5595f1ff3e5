// kvbench model-info --config-only (issue 30): published config.json files of every registered family, and of
// three architectures kvbench does not run, without any weights (tests/data/model-configs).
#include <nlohmann/json.hpp>

#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/model/family.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

const std::string kConfigs = std::string(KVBENCH_SOURCE_DIR) + "/tests/data/model-configs/";

nlohmann::json info_of(const std::string& dir, const std::string& flags = "") {
  const auto r = test::run_kvbench("model-info --config-only --model " + dir + " --json " + flags);
  EXPECT_EQ(r.exit_code, 0) << dir << ": " << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// Every family of the registry, from its published config.json alone: supported, and the parameter count and KV
// bytes per token the published checkpoint has.
TEST(ModelInfo, ConfigOnlyOfEverySupportedFamily) {
  for (const std::string& family : family_names()) {
    SCOPED_TRACE(family);
    const std::string dir = kConfigs + family;
    ASSERT_TRUE(paths::is_regular_file(dir + "/config.json"))
        << "family '" << family << "' has no published config.json in tests/data/model-configs/" << family
        << " (add one, with expected.json: see the README there)";
    const nlohmann::json expected = read_json_file(dir + "/expected.json");
    const nlohmann::json info = info_of(dir, "--dtype bf16");
    EXPECT_EQ(info["supported"], true) << info;
    EXPECT_EQ(info["family"], family);
    EXPECT_EQ(info["parameters"], expected["parameters"]) << expected["parameters_source"];
    EXPECT_EQ(info["parameters_from"], "config.json");
    EXPECT_EQ(info["kv_bytes_per_token"], expected["kv_bytes_per_token_bf16"]) << expected["kv_bytes_source"];
    // (const json's operator[] on a missing key is undefined: ask contains() first)
    ASSERT_TRUE(info.contains("tokenizer")) << info;
    EXPECT_TRUE(!info.at("tokenizer").contains("file") || info.at("tokenizer").at("file").is_null()) << info.at("tokenizer");
  }
}

TEST(ModelInfo, ConfigOnlyMemoryForAPromptAndABudget) {
  // Llama-3.1-8B in bf16: weights 2 x 8,030,261,248 bytes; 131,072 KV bytes per token; a 32,768-token prompt
  // holds 4 GiB of K/V with the full cache, 128 tokens per KV head hold 128 x 131,072 bytes, and while a layer is
  // compressed its full K/V (32,768 x 131,072 / 32 layers) is there too. Activations: 32,768 x 2 bytes x
  // (4 x 4096 + 2 x (32 + 2 x 8) x 128).
  const nlohmann::json m = info_of(kConfigs + "llama", "--dtype bf16 --prompt-tokens 32768 --budget 128")["memory"];
  const std::int64_t weights = 2LL * 8030261248LL, activations = 32768LL * 2 * (4 * 4096 + 2 * 48 * 128);
  EXPECT_EQ(m["weights_bytes"], weights);
  EXPECT_EQ(m["prefill_activation_bytes"], activations);
  EXPECT_EQ(m["full_cache_bytes"], 32768LL * 131072);
  EXPECT_EQ(m["total_full_cache_bytes"], weights + activations + 32768LL * 131072);
  EXPECT_EQ(m["budget_cache_bytes"], 128LL * 131072);
  EXPECT_EQ(m["total_budget_bytes"], weights + activations + 32768LL * 131072 / 32 + 128LL * 131072);
  const auto text = test::run_kvbench("model-info --config-only --model " + kConfigs + "llama --prompt-tokens 32768 --budget 128");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("supported           yes (family llama)\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("parameters          8030261248 (8030M, from config.json)\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("KV bytes / token    131072 (bf16)\n"), std::string::npos) << text.out;  // the checkpoint's dtype
  EXPECT_NE(text.out.find("  full KV cache     4.29 GB (4294967296 bytes)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  budget 128        0.02 GB (16777216 bytes) of KV cache"), std::string::npos) << text.out;
  test::expect_one_error(test::run_kvbench("model-info --config-only --model " + kConfigs + "llama --budget 128"),
                         "--budget needs --prompt-tokens");
}

// Three published architectures kvbench does not run: a clear "not supported: ..." each, not an error.
TEST(ModelInfo, ConfigOnlyOfUnsupportedArchitectures) {
  for (const auto& [dir, architecture] : std::vector<std::pair<std::string, std::string>>{
           {"qwen2_moe", "Qwen2MoeForCausalLM"}, {"falcon", "FalconForCausalLM"}, {"gpt2", "GPT2LMHeadModel"}}) {
    SCOPED_TRACE(dir);
    const auto r = test::run_kvbench("model-info --config-only --model " + kConfigs + "unsupported/" + dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("supported           no\nnot supported: architecture '" + architecture +
                         "' is not supported (supported: "), std::string::npos) << r.out;
    const nlohmann::json info = info_of(kConfigs + "unsupported/" + dir);
    EXPECT_EQ(info["supported"], false);
    EXPECT_EQ(info["architecture"], architecture);
  }
  // A supported architecture with a feature kvbench does not implement is an answer too; a malformed config an error.
  test::TempDir tmp;
  nlohmann::json qwen = read_json_file(kConfigs + "qwen2/config.json");
  qwen["hidden_act"] = "relu";
  test::write_file(tmp.file("relu/config.json"), qwen.dump());
  const nlohmann::json relu = info_of(tmp.file("relu"));
  EXPECT_EQ(relu["supported"], false);
  EXPECT_EQ(relu["not_supported"], "hidden_act 'relu' is not supported (silu, gelu_pytorch_tanh, gelu)");
  qwen.erase("hidden_size");
  qwen["hidden_act"] = "silu";
  test::write_file(tmp.file("bad/config.json"), qwen.dump());
  test::expect_one_error(test::run_kvbench("model-info --config-only --model " + tmp.file("bad")), "hidden_size");
  // A layer_types list of the wrong length is refused with or without a sliding window, as transformers does.
  nlohmann::json qwen3 = read_json_file(kConfigs + "qwen3/config.json");
  const std::int64_t layers = qwen3["num_hidden_layers"].get<std::int64_t>();
  qwen3["layer_types"] = std::vector<std::string>(static_cast<std::size_t>(layers - 1), "full_attention");
  test::write_file(tmp.file("types/config.json"), qwen3.dump());
  test::expect_one_error(test::run_kvbench("model-info --config-only --model " + tmp.file("types")),
                         "layer_types must list one type per layer (" + std::to_string(layers) + "), got " +
                             std::to_string(layers - 1) + " entries");
}

// With the tokenizer files beside config.json: the tokenizer and the chat format a run would pick.
TEST(ModelInfo, ConfigOnlyReadsTheTokenizerFiles) {
  KVBENCH_REQUIRE_SHARED();
  test::TempDir tmp;
  test::write_file(tmp.file("config.json"), test::read_file(kConfigs + "llama/config.json"));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    test::write_file(tmp.file(f), test::read_file(test::shared_path(std::string("data/tokenizers/llama3_hf/") + f)));
  const nlohmann::json t = info_of(tmp.path())["tokenizer"];
  EXPECT_EQ(t["file"], "tokenizer.json");
  EXPECT_EQ(t["vocab_size"], 128256);
  EXPECT_TRUE(t["chat_format"].is_string()) << t;
  EXPECT_EQ(t["chat_from"], "tokenizer_config.json's chat template");
}

}  // namespace
}  // namespace kvbench
