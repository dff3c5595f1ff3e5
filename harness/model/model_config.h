#pragma once
// The architecture-independent description of a decoder-only model, read from an HF `config.json`.
// Every family we support (Llama, Mistral, Qwen2) is a pre-norm decoder with RMSNorm, RoPE, GQA attention
// and a SwiGLU MLP; what differs between them (biases, rope scaling, sliding windows, tied embeddings) is a
// field here, filled by the family's parser (see family.h).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

/// How rotary frequencies are rescaled for long contexts (HF `rope_scaling` / `rope_parameters`).
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;                      // llama3 only
  double high_freq_factor = 4.0;                     // llama3 only
  std::int64_t original_max_position_embeddings = 8192;  // llama3 only
};

const char* rope_scaling_name(RopeScaling::Type type);

struct ModelConfig {
  std::string architecture;  ///< e.g. "LlamaForCausalLM"
  std::string model_type;    ///< e.g. "llama"
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  ///< q/k/v projections carry a bias (Qwen2, Llama attention_bias)
  bool o_bias = false;    ///< o_proj carries a bias (Llama attention_bias)
  bool mlp_bias = false;  ///< gate/up/down carry biases (Llama mlp_bias)
  std::int64_t sliding_window = 0;  ///< 0: full attention
  std::string checkpoint_dtype;     ///< "float32", "bfloat16", "float16" or "" when the config does not say
  std::optional<std::int64_t> bos_token_id;
  std::vector<std::int64_t> eos_token_ids;

  std::int64_t group_size() const { return num_heads / num_kv_heads; }
  /// Parameters of the weights this config describes (embeddings, every layer's projections, biases and norms,
  /// the final norm and an untied LM head): what the checkpoint holds, computed without it.
  std::int64_t parameter_count() const {
    const std::int64_t q = num_heads * head_dim, kv = num_kv_heads * head_dim;
    const std::int64_t attention = hidden_size * (q + 2 * kv) + q * hidden_size + (qkv_bias ? q + 2 * kv : 0) +
                                   (o_bias ? hidden_size : 0);
    const std::int64_t mlp = 3 * hidden_size * intermediate_size + (mlp_bias ? 2 * intermediate_size + hidden_size : 0);
    return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_layers * (attention + mlp + 2 * hidden_size) +
           hidden_size;
  }
  /// Bytes of K and V for one token across all layers and KV heads, for elements of `element_bytes`.
  std::int64_t kv_bytes_per_token(std::int64_t element_bytes) const {
    return 2 * num_layers * num_kv_heads * head_dim * element_bytes;
  }
};

/// Reads `<model_dir>/config.json`, picks the family from `architectures` and parses it.
/// Unsupported architectures and malformed fields are kvbench::Errors naming the file and key.
ModelConfig load_model_config(const std::string& model_dir);

/// Parses an already-loaded config; `source` names it in errors.
ModelConfig parse_model_config(const nlohmann::json& config, const std::string& source);

}  // namespace kvbench
