#pragma once
// Rotary position embeddings (RoPE) with the default, linear, llama3, dynamic (NTK), yarn and longrope
// frequency schedules, partial rotary (the leading rotary_dim dims of a head), and yarn's and longrope's
// attention factor on cos/sin. Arithmetic follows HF transformers exactly (float32 inverse frequencies, cos/sin
// computed in float32 and cast to the compute dtype, rotate-half convention), so logits agree to float rounding.
//
// Two schedules depend on the sequence, as in transformers: dynamic NTK rescales the base for the length a
// forward pass reaches (a prefill of T tokens uses T for all its rows; a decode step at position p uses p + 1),
// and longrope takes its long factors when the prompt is longer than original_max_position_embeddings (the
// whole prompt and its decode, as transformers' Phi-3 does after recomputing its cache; kvbench never recomputes
// a cache, so a decode that crosses the boundary after a short prompt keeps the short factors).

#include <ATen/ATen.h>

#include <utility>
#include <vector>

#include "harness/model/model_config.h"

namespace kvbench {

/// The inverse frequencies [rotary_dim/2] (float32, on CPU) of `config`'s RoPE (its full-attention layers'),
/// scaling applied, for a prompt of `prompt_len` tokens (dynamic and longrope depend on it; 0: the schedule at
/// max_position_embeddings' scale).
at::Tensor rope_inverse_frequencies(const ModelConfig& config, std::int64_t prompt_len = 0);

class RotaryEmbedding {
 public:
  RotaryEmbedding(const RopeParameters& rope, std::int64_t rotary_dim, std::int64_t max_position_embeddings,
                  at::Device device);

  /// cos and sin tables [n, rotary_dim] for int64 `positions` [n] of a sequence whose prompt has `prompt_len`
  /// tokens (see the top of this file), cast to `dtype`.
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& positions, at::ScalarType dtype,
                                           std::int64_t prompt_len) const;
  /// The inverse frequencies [rotary_dim/2] (float32, on the device) that rotate a prompt of `prompt_len` tokens.
  at::Tensor inverse_frequencies(std::int64_t prompt_len) const;

  /// Rotates `x` [n, heads, head_dim] by the tables from tables() (rows match x's first dimension); a table
  /// narrower than the head rotates its leading dims and passes the rest through (partial rotary).
  static at::Tensor apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

 private:
  RopeParameters rope_;
  std::int64_t rotary_dim_, max_positions_;
  at::Device device_;
  at::Tensor inv_freq_;       // [rotary_dim/2] float32 on the device: the schedule at its base scale
  at::Tensor long_inv_freq_;  // longrope: the long factors' frequencies
};

/// cos and sin tables for some positions, one pair per distinct RoPE of a model (Gemma 3: global and local).
struct RopeTables {
  std::vector<at::Tensor> cos, sin;
  /// Rows [start, start + n) of every table.
  RopeTables narrow(std::int64_t start, std::int64_t n) const;
  /// Row `row` of every table, repeated `copies` times (a batch at one position).
  RopeTables row(std::int64_t row, std::int64_t copies) const;
};

}  // namespace kvbench
