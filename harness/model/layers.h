#pragma once
// The pieces the shared decoder (transformer.h) composes a layer from, one small type per variant:
// an RMSNorm (Llama's or Gemma's arithmetic), the feed-forward block (a gated MLP, or a mixture of gated
// experts), and what attention needs to know of a layer (its scale, soft-cap and window).

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>

#include "harness/model/model_config.h"

namespace kvbench {

/// An RMSNorm as HF computes it: normalize in float32; Llama multiplies the weight after the cast back to the
/// input dtype, Gemma multiplies by (1 + weight) in float32 before it. An undefined weight is the identity
/// (a norm the family does not have).
struct RmsNorm {
  at::Tensor weight;  ///< [n] over the last dimension
  double eps = 1e-6;
  bool unit_offset = false;

  bool defined() const { return weight.defined(); }
  /// x [..., n] -> normalized x; x itself when the norm is undefined.
  at::Tensor operator()(const at::Tensor& x) const;
};

/// How a layer's attention treats its scores.
struct AttentionSpec {
  double scale = 1.0;    ///< multiplies q.k
  double softcap = 0.0;  ///< scores = softcap * tanh(scores / softcap) before masking; 0: none
  std::int64_t window = 0;  ///< a query at position p sees keys at positions > p - window; 0: all before it
};

/// The feed-forward block of a layer, applied to its normed input.
class FeedForward {
 public:
  virtual ~FeedForward() = default;
  /// x [n, D] -> [n, D].
  virtual at::Tensor forward(const at::Tensor& x) const = 0;
  /// out += forward(x), for contiguous rows out [n, D] (subclasses fuse the addition into a matrix product).
  virtual void add_forward_(const at::Tensor& out, const at::Tensor& x) const { out.add_(forward(x)); }
  /// Elements of its weights.
  virtual std::int64_t parameter_count() const = 0;
  /// Whether forward() runs without reading anything back to the host (so a CUDA graph may capture it).
  virtual bool capturable() const { return true; }
};

/// act(gate) * up, then down: gate_up [2I, D] holds gate then up (Llama's SwiGLU, Gemma's GeGLU, Phi-3's fused
/// gate_up_proj).
class GatedMlp final : public FeedForward {
 public:
  GatedMlp(at::Tensor gate_up_weight, at::Tensor gate_up_bias, at::Tensor down_weight, at::Tensor down_bias,
           Activation activation);
  at::Tensor forward(const at::Tensor& x) const override;
  void add_forward_(const at::Tensor& out, const at::Tensor& x) const override;
  std::int64_t parameter_count() const override;

 private:
  at::Tensor gated(const at::Tensor& x) const;
  at::Tensor gate_up_weight_, gate_up_bias_, down_weight_, down_bias_;
  Activation activation_;
};

/// A mixture of gated experts (Mixtral, Qwen3-MoE), routed as transformers routes: softmax over the router's
/// logits in float32, the top k experts, their weights renormalised to sum to 1 where the model says so. The
/// (token, expert) pairs are sorted by expert and each projection is one grouped matrix product over the groups
/// (libtorch's `_grouped_mm` where the device has its fused kernel: bf16 on compute capability 9.x/10.x; else one
/// product per expert after one host read of the group sizes). No per-token loop; on the fused kernel nothing is
/// read back to the host, so decode steps are captured in CUDA graphs as for dense models.
/// KVBENCH_EXPERT_MM=loop forces the per-expert products.
class ExpertMlp final : public FeedForward {
 public:
  /// router [E, D]; gate_up [E, 2I, D] (gate then up); down [E, D, I].
  ExpertMlp(at::Tensor router, at::Tensor gate_up, at::Tensor down, std::int64_t top_k, bool normalize,
            Activation activation);
  at::Tensor forward(const at::Tensor& x) const override;
  std::int64_t parameter_count() const override;
  bool capturable() const override { return fused_grouped_mm_; }

 private:
  /// a [P, K] rows grouped by expert (group e ends at row ends[e]: int32 on the device for the fused kernel, int64
  /// on the host for the per-expert products) times weights[e]^T ([E, N, K]) -> [P, N].
  at::Tensor grouped_linear(const at::Tensor& a, const at::Tensor& weights, const at::Tensor& ends) const;

  at::Tensor router_, gate_up_, down_;
  std::int64_t top_k_;
  bool normalize_;
  Activation activation_;
  bool fused_grouped_mm_ = false;
};

/// act(gate) * up of gate_up [n, 2I], with HF's roundings (the fused kernel on CUDA where there is one).
at::Tensor gated_activation(const at::Tensor& gate_up, Activation activation);

}  // namespace kvbench
