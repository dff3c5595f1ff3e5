#pragma once
// The shared decoder of every supported family: embeddings, per-layer pieces (norm + fused QKV projection +
// q/k norms + RoPE; o_proj + residual + norm + feed-forward + residual, with Gemma's extra norms where the
// family has them) and the LM head. Each layer is composed from the variants of layers.h according to the
// config; attention itself and the KV cache live in harness/engine: the model knows nothing of caches or
// policies, only what a layer's attention must do (AttentionSpec).

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "harness/model/layers.h"
#include "harness/model/model_config.h"
#include "harness/model/rope.h"
#include "harness/model/weights.h"

namespace kvbench {

/// One decoder layer's weights in compute dtype on the model's device. q/k/v and gate/up are fused at load
/// time so that each needs one matrix product.
struct LayerWeights {
  RmsNorm attn_norm;          ///< before attention (input_layernorm)
  at::Tensor qkv_weight;      ///< [(Hq + 2 Hkv) d, D]
  at::Tensor qkv_bias;        ///< [(Hq + 2 Hkv) d] or undefined
  RmsNorm q_norm, k_norm;     ///< per head before RoPE (Qwen3, Gemma 3); undefined: none
  at::Tensor o_weight;        ///< [D, Hq d]
  at::Tensor o_bias;          ///< [D] or undefined
  RmsNorm post_attn_norm;     ///< Gemma: on the attention output before the residual; undefined: none
  RmsNorm mlp_norm;           ///< before the feed-forward block
  RmsNorm post_mlp_norm;      ///< Gemma: on the feed-forward output before the residual; undefined: none
  std::shared_ptr<const FeedForward> mlp;
  AttentionSpec attention;
  std::size_t rope = 0;       ///< which of the model's rotary embeddings rotates this layer
};

/// q [n, Hq, d], k and v [n, Hkv, d] for n rows, RoPE applied to q and k.
struct QkvProjection {
  at::Tensor q;
  at::Tensor k;
  at::Tensor v;
};

class Transformer {
 public:
  /// Loads the checkpoint in `model_dir` onto `device` in `dtype`. Missing tensors, shape mismatches and bad
  /// files are kvbench::Errors naming the file and tensor.
  static std::unique_ptr<Transformer> load(const std::string& model_dir, at::Device device, at::ScalarType dtype);

  const ModelConfig& config() const { return config_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  std::int64_t parameter_count() const { return parameter_count_; }
  /// Layer `l`'s weights (policies read o_proj from here).
  const LayerWeights& layer_weights(std::int64_t l) const { return layers_.at(static_cast<std::size_t>(l)); }
  /// What layer `l`'s attention computes: scale, soft-cap, window.
  const AttentionSpec& attention(std::int64_t l) const { return layers_.at(static_cast<std::size_t>(l)).attention; }
  /// The rotary embedding of layer `l`.
  const RotaryEmbedding& rope(std::int64_t l) const { return ropes_.at(layers_.at(static_cast<std::size_t>(l)).rope); }
  /// cos/sin tables of every rotary embedding for int64 `positions` [n] of a sequence whose prompt has
  /// `prompt_len` tokens (rope.h: dynamic and longrope depend on it).
  RopeTables rope_tables(const at::Tensor& positions, std::int64_t prompt_len) const;
  /// Whether a whole forward step runs without host reads (experts read their token counts), so that a CUDA
  /// graph may capture it.
  bool capturable() const { return capturable_; }

  /// Token embeddings [n, D] for int64 ids [n] on the model's device (scaled where the family scales them).
  at::Tensor embed(const at::Tensor& ids) const;
  /// Pre-attention norm, the fused QKV projection and the q/k norms, before RoPE: [n, (Hq + 2 Hkv) d] for rows
  /// `hidden` [n, D].
  at::Tensor qkv(std::int64_t layer, const at::Tensor& hidden) const;
  /// qkv() and RoPE for rows `hidden` [n, D] with `tables` for their positions.
  QkvProjection project_qkv(std::int64_t layer, const at::Tensor& hidden, const RopeTables& tables) const;
  /// project_qkv written into q_out [n, Hq, d], k_out and v_out [n, Hkv, d] (views, e.g. rows of head-major
  /// buffers), without intermediate copies on CUDA.
  void project_qkv_into(std::int64_t layer, const at::Tensor& hidden, const RopeTables& tables,
                        const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out) const;
  /// Whether layer `l`'s RoPE can run in the fused split-and-rotate kernel (rotation over the whole head).
  bool fused_rope(std::int64_t l) const;
  /// The rest of the layer: hidden + o_proj(attn), then + mlp(norm(.)) (with Gemma's post norms). `attn` is
  /// [n, Hq d].
  at::Tensor finish_layer(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const;
  /// finish_layer in place: `hidden` [n, D] (contiguous rows) becomes the layer's output. On CUDA the
  /// residual additions ride in the matrix products where no post norm sits between (no extra passes).
  void finish_layer_(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const;
  /// Final norm and LM head (soft-capped where the family caps): float32 logits [n, V] for rows `hidden`.
  at::Tensor logits(const at::Tensor& hidden) const;

 private:
  Transformer(ModelConfig config, at::Device device, at::ScalarType dtype);

  ModelConfig config_;
  at::Device device_;
  at::ScalarType dtype_;
  std::vector<RotaryEmbedding> ropes_;  // [0]: the global one; [1]: the sliding layers' own (Gemma 3)
  at::Tensor embed_tokens_;  // [V, D]
  at::Tensor embed_scale_;   // 0-dim in the compute dtype, or undefined
  RmsNorm final_norm_;
  at::Tensor lm_head_;       // [V, D]; the embedding itself when tied
  std::vector<LayerWeights> layers_;
  std::int64_t parameter_count_ = 0;
  bool capturable_ = true;
};

/// RMSNorm as HF computes it for Llama: normalize in float32, cast back, then scale by `weight` in the input dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace kvbench
