#pragma once
// Rotary position embeddings (RoPE) with the default, linear and llama3 frequency schedules.
// Arithmetic follows HF transformers exactly (float32 inverse frequencies, cos/sin computed in float32 and
// cast to the compute dtype, rotate-half convention), so logits agree to float rounding.

#include <ATen/ATen.h>

#include "harness/model/model_config.h"

namespace kvbench {

/// The inverse frequencies [head_dim/2] (float32, on CPU) for `config`, scaling applied.
at::Tensor rope_inverse_frequencies(const ModelConfig& config);

class RotaryEmbedding {
 public:
  RotaryEmbedding(const ModelConfig& config, at::Device device);

  /// cos and sin tables [n, head_dim] for int64 `positions` [n], cast to `dtype`.
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& positions, at::ScalarType dtype) const;

  /// Rotates `x` [n, heads, head_dim] by the tables from tables() (rows match x's first dimension).
  static at::Tensor apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

 private:
  at::Tensor inv_freq_;  // [head_dim/2] float32 on the model's device
};

}  // namespace kvbench
