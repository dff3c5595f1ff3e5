#pragma once
// The architecture-independent description of a decoder-only model, read from an HF `config.json`.
// Every family we support is a decoder of RMSNorm, RoPE, GQA attention and a gated MLP (or a mixture of gated
// experts); what differs between them (biases, norms and where they sit, RoPE schedules, sliding windows,
// soft-capping, experts, tensor names) is a field here, filled by the family's parser (see family.h). The
// shared decoder (transformer.h) composes its layers from these fields.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

/// How rotary frequencies are rescaled for long contexts (HF `rope_scaling` / `rope_parameters`).
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3, kDynamic, kYarn, kLongRope };
  Type type = Type::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;                          ///< llama3
  double high_freq_factor = 4.0;                         ///< llama3
  std::int64_t original_max_position_embeddings = 8192;  ///< llama3, yarn, longrope
  /// yarn and longrope: cos and sin are multiplied by it (HF's attention_scaling), resolved from the config's
  /// attention_factor, mscale/mscale_all_dim or factor as transformers does.
  double attention_factor = 1.0;
  double beta_fast = 32.0;  ///< yarn
  double beta_slow = 1.0;   ///< yarn
  bool truncate = true;     ///< yarn: the correction range rounded to whole dimensions (transformers 5's key)
  std::vector<double> short_factor, long_factor;  ///< longrope: one per rotary frequency
};

const char* rope_scaling_name(RopeScaling::Type type);

/// One rotary embedding: its base and schedule.
struct RopeParameters {
  double theta = 10000.0;
  RopeScaling scaling;
};

/// The activation of the gated MLP: act(gate) * up.
enum class Activation { kSilu, kGeluTanh, kGelu };
const char* activation_name(Activation a);

/// Where a checkpoint keeps the language model's tensors (multimodal checkpoints nest it).
struct TensorLayout {
  /// Prefixes of the decoder's tensors, tried in order: the first for which `<prefix>embed_tokens.weight`
  /// exists is used; the first one is also what random checkpoints write.
  std::vector<std::string> prefixes = {"model."};
  /// Names of the untied LM head, tried in order.
  std::vector<std::string> lm_head = {"lm_head.weight"};
  bool fused_qkv = false;      ///< Phi-3: one self_attn.qkv_proj instead of q/k/v_proj
  bool fused_gate_up = false;  ///< Phi-3: one mlp.gate_up_proj instead of gate/up_proj
};

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
  double rope_theta = 10000.0;  ///< RoPE of every layer (of the full-attention layers when sliding_rope is set)
  RopeScaling rope_scaling;
  std::optional<RopeParameters> sliding_rope;  ///< Gemma 3: the sliding-window layers' own base and scaling
  std::int64_t rotary_dim = 0;  ///< leading dims of each head RoPE rotates (head_dim x partial_rotary_factor)
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  ///< q/k/v projections carry a bias (Qwen2, Llama attention_bias)
  bool o_bias = false;    ///< o_proj carries a bias (Llama attention_bias)
  bool mlp_bias = false;  ///< gate/up/down carry biases (Llama mlp_bias)
  Activation activation = Activation::kSilu;

  // Attention.
  std::int64_t sliding_window = 0;   ///< keys a windowed query sees (itself included); 0: no layer has a window
  std::vector<bool> sliding_layers;  ///< per layer: whether it attends over the window only ([] when no window)
  double attention_scale = 0.0;      ///< multiplies q.k: 1/sqrt(head_dim), or query_pre_attn_scalar^-0.5 (Gemma)
  double attn_logit_softcap = 0.0;   ///< Gemma 2: scores = cap * tanh(scores / cap); 0: none
  double final_logit_softcap = 0.0;  ///< Gemma 2: the same on the LM head's logits; 0: none
  bool qk_norm = false;              ///< Qwen3, Gemma 3: RMSNorm of each q and k head before RoPE

  // Norms and embeddings.
  bool norm_unit_offset = false;  ///< Gemma: RMSNorm scales by (1 + w), in float32, before the cast back
  bool sandwich_norms = false;    ///< Gemma: norms after attention and after the MLP too (pre/post norms)
  bool scale_embeddings = false;  ///< Gemma: embeddings times sqrt(hidden_size), rounded to the model dtype

  // Mixture of experts (num_experts 0: dense MLPs everywhere).
  std::int64_t num_experts = 0;
  std::int64_t experts_per_token = 0;
  std::int64_t moe_intermediate_size = 0;
  bool norm_topk_prob = true;      ///< the top-k routing weights renormalised to sum to 1 (Mixtral; Qwen3-MoE's key)
  std::vector<bool> moe_layers;    ///< per layer: experts instead of the dense MLP

  TensorLayout layout;
  std::string checkpoint_dtype;     ///< "float32", "bfloat16", "float16" or "" when the config does not say
  std::optional<std::int64_t> bos_token_id;
  std::vector<std::int64_t> eos_token_ids;

  std::int64_t group_size() const { return num_heads / num_kv_heads; }
  bool is_sliding(std::int64_t layer) const {
    return !sliding_layers.empty() && sliding_layers[static_cast<std::size_t>(layer)];
  }
  bool is_moe(std::int64_t layer) const { return !moe_layers.empty() && moe_layers[static_cast<std::size_t>(layer)]; }
  /// Layers whose KV cache a policy may compress freely (not sliding-window layers).
  std::int64_t num_full_attention_layers() const;
  /// The RoPE of `layer`.
  RopeParameters rope_for(std::int64_t layer) const;
  /// Parameters of the weights this config describes (every tensor of weight_specs: embeddings, each layer's
  /// projections, biases, norms and experts, the final norm and an untied LM head), computed without the
  /// checkpoint; a multimodal checkpoint's vision tower is not counted (weights.cpp).
  std::int64_t parameter_count() const;
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
