#pragma once
// The shared decoder of every supported family: embeddings, per-layer pieces (pre-attention RMSNorm + fused
// QKV projection + RoPE; o_proj + residual + RMSNorm + SwiGLU MLP + residual) and the LM head.
// Attention itself and the KV cache live in harness/engine: the model knows nothing of caches or policies.

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "harness/model/model_config.h"
#include "harness/model/rope.h"

namespace kvbench {

/// One decoder layer's weights in compute dtype on the model's device. q/k/v and gate/up are fused at load
/// time so that each needs one matrix product.
struct LayerWeights {
  at::Tensor attn_norm;       ///< [D]
  at::Tensor qkv_weight;      ///< [(Hq + 2 Hkv) d, D]
  at::Tensor qkv_bias;        ///< [(Hq + 2 Hkv) d] or undefined
  at::Tensor o_weight;        ///< [D, Hq d]
  at::Tensor o_bias;          ///< [D] or undefined
  at::Tensor mlp_norm;        ///< [D]
  at::Tensor gate_up_weight;  ///< [2 I, D]
  at::Tensor gate_up_bias;    ///< [2 I] or undefined
  at::Tensor down_weight;     ///< [D, I]
  at::Tensor down_bias;       ///< [D] or undefined
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
  const RotaryEmbedding& rope() const { return rope_; }
  std::int64_t parameter_count() const { return parameter_count_; }
  /// Layer `l`'s weights (policies read o_proj from here).
  const LayerWeights& layer_weights(std::int64_t l) const { return layers_.at(static_cast<std::size_t>(l)); }

  /// Token embeddings [n, D] for int64 ids [n] on the model's device.
  at::Tensor embed(const at::Tensor& ids) const;
  /// Pre-attention norm and the fused QKV projection, before RoPE: [n, (Hq + 2 Hkv) d] for rows `hidden` [n, D].
  at::Tensor qkv(std::int64_t layer, const at::Tensor& hidden) const;
  /// Pre-attention norm, fused QKV projection and RoPE for rows `hidden` [n, D] with tables for their positions.
  QkvProjection project_qkv(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& cos,
                            const at::Tensor& sin) const;
  /// project_qkv written into q_out [n, Hq, d], k_out and v_out [n, Hkv, d] (views, e.g. rows of head-major
  /// buffers), without intermediate copies on CUDA.
  void project_qkv_into(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin,
                        const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out) const;
  /// The rest of the layer: hidden + o_proj(attn), then + mlp(norm(.)). `attn` is [n, Hq d].
  at::Tensor finish_layer(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const;
  /// finish_layer in place: `hidden` [n, D] (contiguous rows) becomes the layer's output. On CUDA the
  /// residual additions ride in the matrix products (no extra passes, no temporaries of [n, D]).
  void finish_layer_(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const;
  /// Final norm and LM head: float32 logits [n, V] for rows `hidden` [n, D].
  at::Tensor logits(const at::Tensor& hidden) const;

 private:
  Transformer(ModelConfig config, at::Device device, at::ScalarType dtype);

  ModelConfig config_;
  at::Device device_;
  at::ScalarType dtype_;
  RotaryEmbedding rope_;
  at::Tensor embed_tokens_;  // [V, D]
  at::Tensor final_norm_;    // [D]
  at::Tensor lm_head_;       // [V, D]; the embedding itself when tied
  std::vector<LayerWeights> layers_;
  std::int64_t parameter_count_ = 0;
};

/// A tensor the checkpoint must hold for a config, with its shape.
struct WeightSpec {
  std::string name;
  std::vector<std::int64_t> shape;
};
/// Every tensor a checkpoint of `config` must hold (biases only where the family has them; lm_head only when
/// the embeddings are not tied).
std::vector<WeightSpec> weight_specs(const ModelConfig& config);

class Checkpoint;
/// Checks that `checkpoint` holds every tensor of weight_specs(config) with that shape and a float dtype,
/// without reading any data; throws kvbench::Error naming the file and tensor of the first problem.
void verify_checkpoint(const ModelConfig& config, const Checkpoint& checkpoint);

/// RMSNorm as HF computes it: normalize in float32, cast back, then scale by `weight` in the input dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

}  // namespace kvbench
