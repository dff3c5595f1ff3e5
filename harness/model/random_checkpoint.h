#pragma once
// Writes small random-weights HF checkpoints (config.json + safetensors) of any registered family for smoke runs
// and tests, so that nothing needs downloading: the family writes its own config keys (ModelFamily::tiny_config)
// and the tensors are exactly those its loader reads (weight_specs). Weights are seeded and reproducible for a
// given libtorch version.

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace kvbench {

struct RandomModelSpec {
  std::string family = "llama";  ///< a registered family's short name (family_names())
  std::int64_t vocab_size = 512;
  std::int64_t hidden_size = 64;
  std::int64_t intermediate_size = 172;
  std::int64_t num_layers = 2;
  std::int64_t num_heads = 4;
  std::int64_t num_kv_heads = 2;
  std::int64_t head_dim = 0;           ///< 0: hidden_size / num_heads (written only by families with the key)
  std::int64_t sliding_window = 0;     ///< families with windows: the window of their sliding layers (0: none,
                                       ///< or the family's default where it always has one)
  std::int64_t num_experts = 0;        ///< MoE families: experts per layer (0: 4)
  std::int64_t experts_per_token = 2;  ///< MoE families
  std::int64_t max_position_embeddings = 4096;
  double rope_theta = 10000.0;
  nlohmann::json rope_scaling;  ///< null, or an HF rope_scaling object
  bool tie_word_embeddings = false;
  bool attention_bias = false;  ///< llama only; qwen2 always has q/k/v biases
  std::string dtype = "f32";    ///< f32, bf16 or f16 on disk
  std::int64_t shards = 1;      ///< > 1 writes model-0000i-of-0000n.safetensors + index
  std::uint64_t seed = 0;
  double init_std = 0.0;        ///< 0: 1/sqrt(fan_in), which gives peaked, non-degenerate logits
  /// Keys set in config.json (the language model's, for a multimodal family) after the family's own: features
  /// no field above names (a RoPE schedule's extra keys, partial_rotary_factor, layer patterns); the tensors
  /// follow the resulting config.
  nlohmann::json config_overrides = nlohmann::json::object();
};

/// Writes the checkpoint into `dir` (created if needed) and returns the float32 weights by tensor name.
std::map<std::string, at::Tensor> write_random_checkpoint(const std::string& dir, const RandomModelSpec& spec);

/// The config.json object write_random_checkpoint writes for `spec`.
nlohmann::json random_model_config(const RandomModelSpec& spec);

}  // namespace kvbench
