// Checkpoint loading: configs (both HF rope styles), sharded safetensors, and one clear error for every
// broken input (missing shard, missing tensor, wrong shape, unsupported architecture, bad config).
#include <gtest/gtest.h>

#include <cmath>

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/engine/engine.h"
#include "harness/model/checkpoint.h"
#include "harness/model/random_checkpoint.h"
#include "harness/model/rope.h"
#include "harness/model/transformer.h"
#include "policies/registry.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {

using test::error_of;
using test::shared_path;
using test::TempDir;

RandomModelSpec tiny() {
  RandomModelSpec s;
  s.vocab_size = 64;
  s.hidden_size = 32;
  s.intermediate_size = 48;
  s.num_layers = 2;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.seed = 3;
  return s;
}


void edit_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json c = read_json_file(dir + "/config.json");
  edit(c);
  test::write_file(dir + "/config.json", c.dump(2));
}

// Rewrites a safetensors file through `edit`, which may change an entry or return false to drop it.
void rewrite_safetensors(const std::string& path, const std::function<bool(TensorToWrite&)>& edit) {
  std::vector<TensorToWrite> keep;
  std::vector<std::string> copies;  // the mapping closes before the rename, so copy the bytes out
  {
    SafetensorsFile f(path);
    copies.reserve(f.tensors().size());
    for (const auto& t : f.tensors()) {
      copies.emplace_back(reinterpret_cast<const char*>(f.data(t)), t.nbytes());
      TensorToWrite w{t.name, t.dtype, t.shape, copies.back().data(), t.nbytes()};
      if (edit(w)) keep.push_back(w);
    }
    write_safetensors(path + ".new", keep);
  }
  paths::rename(path + ".new", path);
}

at::Tensor prompt_logits(const std::string& dir) {
  const auto model = Transformer::load(dir, at::kCPU, at::kFloat);
  auto full = make_policy({"full"});
  PrefillOptions pre;
  pre.all_logits = true;
  return Engine(*model).prefill({5, 9, 1, 33, 2, 7}, {full.get()}, pre).logits;
}

TEST(ModelLoading, ShardedEqualsSingleFile) {
  TempDir a, b;
  RandomModelSpec s = tiny();
  write_random_checkpoint(a.path(), s);
  s.shards = 3;
  write_random_checkpoint(b.path(), s);
  EXPECT_TRUE(paths::exists(b.file("model.safetensors.index.json")));
  EXPECT_TRUE(paths::exists(b.file("model-00003-of-00003.safetensors")));
  EXPECT_TRUE(at::equal(prompt_logits(a.path()), prompt_logits(b.path())));
}

TEST(ModelLoading, HalfPrecisionCheckpointsLoad) {
  for (const char* dtype : {"bf16", "f16"}) {
    TempDir dir;
    RandomModelSpec s = tiny();
    s.dtype = dtype;
    write_random_checkpoint(dir.path(), s);
    EXPECT_TRUE(at::isfinite(prompt_logits(dir.path())).all().item<bool>()) << dtype;
  }
}

TEST(ModelLoading, MissingShard) {
  TempDir dir;
  RandomModelSpec s = tiny();
  s.shards = 2;
  write_random_checkpoint(dir.path(), s);
  paths::remove_file(dir.file("model-00002-of-00002.safetensors"));
  const std::string msg = error_of([&] { Transformer::load(dir.path(), at::kCPU, at::kFloat); });
  EXPECT_NE(msg.find("model.safetensors.index.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shard 'model-00002-of-00002.safetensors'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is missing"), std::string::npos) << msg;
}

TEST(ModelLoading, IndexNamesTensorTheShardLacks) {
  TempDir dir;
  RandomModelSpec s = tiny();
  s.shards = 2;
  write_random_checkpoint(dir.path(), s);
  nlohmann::json index = read_json_file(dir.file("model.safetensors.index.json"));
  index["weight_map"]["model.extra.weight"] = "model-00001-of-00002.safetensors";
  test::write_file(dir.file("model.safetensors.index.json"), index.dump());
  const std::string msg = error_of([&] { Checkpoint c(dir.path()); });
  EXPECT_NE(msg.find("'model.extra.weight'"), std::string::npos) << msg;
}

TEST(ModelLoading, MissingTensor) {
  TempDir dir;
  write_random_checkpoint(dir.path(), tiny());
  rewrite_safetensors(dir.file("model.safetensors"),
                      [](TensorToWrite& t) { return t.name != "model.layers.1.mlp.up_proj.weight"; });
  const std::string msg = error_of([&] { Transformer::load(dir.path(), at::kCPU, at::kFloat); });
  EXPECT_NE(msg.find("'model.layers.1.mlp.up_proj.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST(ModelLoading, ShapeMismatchNamesFileAndTensor) {
  TempDir dir;
  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) { c["intermediate_size"] = 50; });
  const std::string msg = error_of([&] { Transformer::load(dir.path(), at::kCPU, at::kFloat); });
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mlp.gate_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[48, 32]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[50, 32]"), std::string::npos) << msg;
}

TEST(ModelLoading, TiedEmbeddingsNeedNoLmHead) {
  TempDir tied, untied_missing;
  RandomModelSpec s = tiny();
  s.tie_word_embeddings = true;
  write_random_checkpoint(tied.path(), s);
  EXPECT_NO_THROW(prompt_logits(tied.path()));
  write_random_checkpoint(untied_missing.path(), s);
  edit_config(untied_missing.path(), [](nlohmann::json& c) { c["tie_word_embeddings"] = false; });
  EXPECT_NE(error_of([&] { prompt_logits(untied_missing.path()); }).find("'lm_head.weight'"), std::string::npos);
}

TEST(ModelLoading, ConfigErrorsNameTheKey) {
  TempDir dir;
  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) { c["architectures"] = {"GPT2LMHeadModel"}; });
  std::string msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("'GPT2LMHeadModel' is not supported"), std::string::npos) << msg;
  EXPECT_NE(msg.find("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"), std::string::npos) << msg;

  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) { c.erase("num_hidden_layers"); });
  msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("config.json: missing required key 'num_hidden_layers'"), std::string::npos) << msg;

  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) { c["hidden_size"] = "64"; });
  msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("'hidden_size' must be an integer"), std::string::npos) << msg;

  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) { c["num_key_value_heads"] = 3; });
  msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("multiple of num_key_value_heads"), std::string::npos) << msg;

  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) { c["rope_scaling"] = {{"type", "ntk-by-parts"}, {"factor", 4.0}}; });
  msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("rope type 'ntk-by-parts' is not supported"), std::string::npos) << msg;

  // A longrope schedule needs one factor per rotary frequency (head_dim 8: 4).
  write_random_checkpoint(dir.path(), tiny());
  edit_config(dir.path(), [](nlohmann::json& c) {
    c["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0, 1.0}}, {"long_factor", {2.0, 2.0}}};
  });
  msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("rope_scaling: short_factor must list 4 numbers"), std::string::npos) << msg;

  test::write_file(dir.file("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"],");
  msg = error_of([&] { load_model_config(dir.path()); });
  EXPECT_NE(msg.find("config.json: invalid JSON"), std::string::npos) << msg;

  paths::remove_file(dir.file("config.json"));
  EXPECT_NE(error_of([&] { load_model_config(dir.path()); }).find("has no config.json"), std::string::npos);
  EXPECT_NE(error_of([&] { load_model_config(dir.file("nope")); }).find("does not exist"), std::string::npos);
}

TEST(ModelLoading, NoSafetensorsFiles) {
  TempDir dir;
  write_random_checkpoint(dir.path(), tiny());
  paths::rename(dir.file("model.safetensors"), dir.file("pytorch_model.bin"));
  const std::string msg = error_of([&] { Checkpoint c(dir.path()); });
  EXPECT_NE(msg.find("neither model.safetensors nor model.safetensors.index.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("convert them to safetensors"), std::string::npos) << msg;
}

TEST(ModelLoading, NonFloatWeightIsRejected) {
  TempDir dir;
  write_random_checkpoint(dir.path(), tiny());
  const std::vector<std::int32_t> norm(32, 1);
  rewrite_safetensors(dir.file("model.safetensors"), [&](TensorToWrite& t) {
    if (t.name == "model.norm.weight") t = {t.name, DType::I32, {32}, norm.data(), 128};
    return true;
  });
  const std::string msg = error_of([&] { Transformer::load(dir.path(), at::kCPU, at::kFloat); });
  EXPECT_NE(msg.find("'model.norm.weight' has dtype I32"), std::string::npos) << msg;
}

TEST(ModelConfigParsing, BothRopeStylesAndTransformers5Fields) {
  const nlohmann::json base = {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 100}, {"hidden_size", 64},
                               {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
  // transformers 4: rope_theta + rope_scaling{type}
  nlohmann::json v4 = base;
  v4["rope_theta"] = 500000.0;
  v4["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  v4["torch_dtype"] = "bfloat16";
  ModelConfig c = parse_model_config(v4, "v4");
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_EQ(c.rope_scaling.factor, 2.0);
  EXPECT_EQ(c.checkpoint_dtype, "bfloat16");
  EXPECT_EQ(c.num_kv_heads, 4);  // defaults to the head count
  EXPECT_EQ(c.head_dim, 16);
  // transformers 5: rope_parameters{rope_type, rope_theta, ...}, dtype
  nlohmann::json v5 = base;
  v5["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                           {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  v5["dtype"] = "float32";
  v5["head_dim"] = 32;
  v5["eos_token_id"] = {128001, 128009};
  c = parse_model_config(v5, "v5");
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.checkpoint_dtype, "float32");
  EXPECT_EQ(c.eos_token_ids, (std::vector<std::int64_t>{128001, 128009}));
  nlohmann::json v5_default = base;
  v5_default["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  c = parse_model_config(v5_default, "v5d");
  EXPECT_EQ(c.rope_theta, 1000000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kNone);
  // Qwen2 always has q/k/v biases; Llama only with attention_bias, which also covers o_proj.
  nlohmann::json q = base;
  q["architectures"] = {"Qwen2ForCausalLM"};
  c = parse_model_config(q, "q");
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_EQ(c.sliding_window, 0);
  // Qwen2's window covers the layers from max_window_layers on, and only with use_sliding_window.
  q["sliding_window"] = 4096;
  EXPECT_EQ(parse_model_config(q, "q").sliding_window, 0);
  q["use_sliding_window"] = true;
  q["max_window_layers"] = 1;
  c = parse_model_config(q, "q");
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.sliding_layers, (std::vector<bool>{false, true}));
}

TEST(Rope, Llama3FrequenciesDerivedByHand) {
  // head_dim 8, theta 10000: base inverse frequencies 1, 0.1, 0.01, 0.001, wavelengths 2*pi/f =
  // 6.283, 62.83, 628.3, 6283. With original_max_position_embeddings 1000, low_freq_factor 1 and
  // high_freq_factor 4: wavelengths < 250 stay (1, 0.1); > 1000 are divided by factor 8 (0.001 -> 0.000125);
  // 628.3 is in between: smooth = (1000/628.32 - 1)/(4 - 1) = 0.197183, so
  // f = (1 - 0.197183) * 0.01 / 8 + 0.197183 * 0.01 = 0.00297535.
  ModelConfig c;
  c.head_dim = 8;
  c.rope_theta = 10000.0;
  c.rope_scaling.type = RopeScaling::Type::kLlama3;
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 1000;
  const at::Tensor f = rope_inverse_frequencies(c);
  ASSERT_EQ(f.numel(), 4);
  EXPECT_NEAR(f[0].item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(f[1].item<double>(), 0.1, 1e-7);
  EXPECT_NEAR(f[2].item<double>(), 0.00297535, 1e-8);
  EXPECT_NEAR(f[3].item<double>(), 0.000125, 1e-9);
  c.rope_scaling.type = RopeScaling::Type::kLinear;
  c.rope_scaling.factor = 4.0;
  EXPECT_NEAR(rope_inverse_frequencies(c)[1].item<double>(), 0.025, 1e-8);
}

TEST(Rope, YarnDynamicAndLongropeDerivedByHand) {
  // yarn, head_dim 8, theta 1e4, factor 4 over 64 positions, beta 32/1: position frequencies 1, 0.1, 0.01,
  // 0.001. Correction dims 8 ln(64 / (2 pi rot)) / (2 ln 1e4): -0.497 for rot 32, 1.008 for rot 1; truncated to
  // [0, 2], so the ramp over the 4 frequencies is 0, 0.5, 1, 1 and the kept (extrapolated) share 1, 0.5, 0, 0:
  // f = 1, 0.025 * 0.5 + 0.1 * 0.5 = 0.0625, 0.01 / 4, 0.001 / 4. Without truncation the range is [0, 1.008]:
  // f1 = 0.025 * (1 / 1.008) + 0.1 * (1 - 1 / 1.008). Attention factor 0.1 ln 4 + 1.
  nlohmann::json c = {{"architectures", {"Qwen2ForCausalLM"}}, {"vocab_size", 100}, {"hidden_size", 32},
                      {"intermediate_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                      {"max_position_embeddings", 256},
                      {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 64}}}};
  ModelConfig m = parse_model_config(c, "yarn");
  EXPECT_NEAR(m.rope_scaling.attention_factor, 0.1 * std::log(4.0) + 1, 1e-12);
  at::Tensor f = rope_inverse_frequencies(m);
  ASSERT_EQ(f.numel(), 4);
  for (auto [i, want] : {std::pair{0, 1.0}, {1, 0.0625}, {2, 0.0025}, {3, 0.00025}})
    EXPECT_NEAR(f[i].item<double>(), want, want * 1e-6) << i;
  c["rope_scaling"]["truncate"] = false;
  const double high = 8 * std::log(64 / (2 * M_PI)) / (2 * std::log(10000.0)), ramp = 1 / high;
  EXPECT_NEAR(rope_inverse_frequencies(parse_model_config(c, "yarn"))[1].item<double>(), 0.025 * ramp + 0.1 * (1 - ramp), 1e-8);
  // mscale / mscale_all_dim: (0.1 * 2 ln 4 + 1) / (0.1 * ln 4 + 1).
  c["rope_scaling"]["mscale"] = 2.0;
  c["rope_scaling"]["mscale_all_dim"] = 1.0;
  EXPECT_NEAR(parse_model_config(c, "yarn").rope_scaling.attention_factor,
              (0.2 * std::log(4.0) + 1) / (0.1 * std::log(4.0) + 1), 1e-12);

  // dynamic NTK, factor 2 over 100 positions: a 200-token prompt grows the base to 1e4 * (2 * 200 / 100 - 1)^(8/6).
  c["max_position_embeddings"] = 100;
  c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  m = parse_model_config(c, "dynamic");
  const double base = 1e4 * std::pow(3.0, 8.0 / 6.0);
  EXPECT_NEAR(rope_inverse_frequencies(m, 200)[1].item<double>(), std::pow(base, -0.25), 1e-6);
  EXPECT_NEAR(rope_inverse_frequencies(m, 100)[1].item<double>(), 0.1, 1e-7);  // within max_position_embeddings

  // longrope, Phi-3 style (the top-level original_max_position_embeddings wins, factor = 256 / 64 = 4): attention
  // factor sqrt(1 + ln 4 / ln 64) = sqrt(4 / 3); frequencies divided by the short or (prompt > 64) long factors.
  c["architectures"] = {"Phi3ForCausalLM"};
  c["max_position_embeddings"] = 256;
  c["original_max_position_embeddings"] = 64;
  c["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0, 2.0, 1.0, 1.0}}, {"long_factor", {1.0, 5.0, 1.0, 1.0}},
                       {"original_max_position_embeddings", 4096}};
  m = parse_model_config(c, "longrope");
  EXPECT_EQ(m.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_NEAR(m.rope_scaling.attention_factor, std::sqrt(4.0 / 3.0), 1e-12);
  EXPECT_NEAR(rope_inverse_frequencies(m, 64)[1].item<double>(), 0.1 / 2, 1e-8);
  EXPECT_NEAR(rope_inverse_frequencies(m, 65)[1].item<double>(), 0.1 / 5, 1e-8);
  // partial_rotary_factor 0.5: 4 of the 8 dims rotate, 2 frequencies of base 1e4 over 4 dims (1, 0.01).
  c["rope_scaling"] = nullptr;
  c["partial_rotary_factor"] = 0.5;
  m = parse_model_config(c, "partial");
  EXPECT_EQ(m.rotary_dim, 4);
  EXPECT_NEAR(rope_inverse_frequencies(m)[1].item<double>(), 0.01, 1e-9);
}

TEST(ModelLoading, ParameterCountAndKvBytes) {
  TempDir dir;
  RandomModelSpec s = tiny();
  write_random_checkpoint(dir.path(), s);
  const auto model = Transformer::load(dir.path(), at::kCPU, at::kFloat);
  // embed + lm_head (V x D each) + final norm D, and per layer: 2 norms, q (D x D), k and v (D/2 x D each:
  // 2 KV heads of 8), o (D x D), gate/up (I x D each), down (D x I).
  const std::int64_t V = 64, D = 32, I = 48, Dkv = 16;
  const std::int64_t per_layer = 2 * D + D * D + 2 * Dkv * D + D * D + 3 * I * D;
  EXPECT_EQ(model->parameter_count(), 2 * V * D + D + 2 * per_layer);
  EXPECT_EQ(Checkpoint(dir.path()).total_elements(), static_cast<std::uint64_t>(2 * V * D + D + 2 * per_layer));
  // K and V, 2 layers, 2 KV heads, head_dim 8, 2 bytes (bf16).
  EXPECT_EQ(model->config().kv_bytes_per_token(2), 2 * 2 * 2 * 8 * 2);
}

}  // namespace
}  // namespace kvbench
