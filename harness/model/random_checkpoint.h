#pragma once
// Writes small random-weights HF checkpoints (config.json + safetensors) for smoke runs and tests, so that
// nothing needs downloading. Weights are seeded and reproducible for a given libtorch version.

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace kvbench {

struct RandomModelSpec {
  std::string family = "llama";  ///< llama, mistral or qwen2
  std::int64_t vocab_size = 512;
  std::int64_t hidden_size = 64;
  std::int64_t intermediate_size = 172;
  std::int64_t num_layers = 2;
  std::int64_t num_heads = 4;
  std::int64_t num_kv_heads = 2;
  std::int64_t max_position_embeddings = 4096;
  double rope_theta = 10000.0;
  nlohmann::json rope_scaling;  ///< null, or an HF rope_scaling object
  bool tie_word_embeddings = false;
  bool attention_bias = false;  ///< llama only; qwen2 always has q/k/v biases
  std::string dtype = "f32";    ///< f32, bf16 or f16 on disk
  std::int64_t shards = 1;      ///< > 1 writes model-0000i-of-0000n.safetensors + index
  std::uint64_t seed = 0;
  double init_std = 0.0;        ///< 0: 1/sqrt(fan_in), which gives peaked, non-degenerate logits
};

/// Writes the checkpoint into `dir` (created if needed) and returns the float32 weights by tensor name.
std::map<std::string, at::Tensor> write_random_checkpoint(const std::string& dir, const RandomModelSpec& spec);

/// The config.json object write_random_checkpoint writes for `spec`.
nlohmann::json random_model_config(const RandomModelSpec& spec);

}  // namespace kvbench
