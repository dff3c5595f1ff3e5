#include "harness/model/rope.h"

#include <cmath>

#include "harness/device/ops.h"

namespace kvbench {

at::Tensor rope_inverse_frequencies(const ModelConfig& config) {
  const std::int64_t dim = config.head_dim;
  // HF: 1 / base ** (arange(0, dim, 2, int64).float() / dim), all in float32.
  const at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  at::Tensor inv_freq = 1.0 / at::pow(at::Scalar(config.rope_theta), exponent);
  const RopeScaling& s = config.rope_scaling;
  switch (s.type) {
    case RopeScaling::Type::kNone: break;
    case RopeScaling::Type::kLinear: inv_freq = inv_freq / s.factor; break;
    case RopeScaling::Type::kLlama3: {
      // Low frequencies are divided by `factor`, high ones kept, the band between interpolated smoothly.
      const double old_len = static_cast<double>(s.original_max_position_embeddings);
      const double low_freq_wavelen = old_len / s.low_freq_factor;
      const double high_freq_wavelen = old_len / s.high_freq_factor;
      const at::Tensor wavelen = 2 * M_PI / inv_freq;
      at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
      const at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
      const at::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
      inv_freq = at::where(is_medium, smoothed, scaled);
      break;
    }
  }
  return inv_freq.contiguous();
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config, at::Device device)
    : inv_freq_(rope_inverse_frequencies(config).to(device)) {}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::tables(const at::Tensor& positions, at::ScalarType dtype) const {
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(1) * inv_freq_.unsqueeze(0);  // [n, d/2]
  const at::Tensor emb = at::cat({freqs, freqs}, /*dim=*/1);                                 // [n, d]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return ops::rotate(x, cos, sin);
}

}  // namespace kvbench
