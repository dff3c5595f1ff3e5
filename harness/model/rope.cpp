#include "harness/model/rope.h"

#include <algorithm>
#include <cmath>

#include "harness/common/error.h"
#include "harness/device/ops.h"

namespace kvbench {
namespace {

// base ** (arange(0, dim, 2) / dim) in float32 on `device`, as HF builds every schedule's position frequencies.
at::Tensor powers(const at::Scalar& base, std::int64_t dim, at::Device device = at::kCPU) {
  const at::Tensor exponent =
      at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong).device(device)).to(at::kFloat) / static_cast<double>(dim);
  return at::pow(base, exponent);
}

// YaRN (transformers' _compute_yarn_parameters): interpolated frequencies below the correction range,
// extrapolated above it, a linear ramp between.
at::Tensor yarn_frequencies(double base, std::int64_t dim, const RopeScaling& s) {
  const at::Tensor pos_freqs = powers(base, dim);
  const at::Tensor extrapolation = 1.0 / pos_freqs;
  const at::Tensor interpolation = 1.0 / (s.factor * pos_freqs);
  const double original = static_cast<double>(s.original_max_position_embeddings);
  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(original / (rotations * 2 * M_PI))) / (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // transformers: prevents a division by zero
  const at::Tensor ramp = ((at::arange(dim / 2, at::kFloat) - low) / (high - low)).clamp(0, 1);
  const at::Tensor extrapolation_factor = 1 - ramp;
  return interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
}

// Low frequencies divided by `factor`, high ones kept, the band between interpolated smoothly (Llama 3.1).
at::Tensor llama3_frequencies(const at::Tensor& inv_freq, const RopeScaling& s) {
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  const at::Tensor wavelen = 2 * M_PI / inv_freq;
  const at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  const at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  const at::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(is_medium, smoothed, scaled);
}

// The frequencies of `rope` over `dim` rotary dims at its base scale (dynamic: at max_position_embeddings;
// longrope: the short or the long factors). HF computes longrope's long schedule when a sequence first grows
// past the original length, on that sequence's device, so kvbench computes it on `device` too: float32 pow on a
// GPU may round an ulp away from the CPU's, which at position 4k moves an angle by ~1e-4.
at::Tensor base_frequencies(const RopeParameters& rope, std::int64_t dim, bool long_factors,
                            at::Device device = at::kCPU) {
  const RopeScaling& s = rope.scaling;
  switch (s.type) {
    case RopeScaling::Type::kNone:
    case RopeScaling::Type::kDynamic: return 1.0 / powers(rope.theta, dim);
    case RopeScaling::Type::kLinear: return 1.0 / powers(rope.theta, dim) / s.factor;
    case RopeScaling::Type::kLlama3: return llama3_frequencies(1.0 / powers(rope.theta, dim), s);
    case RopeScaling::Type::kYarn: return yarn_frequencies(rope.theta, dim, s);
    case RopeScaling::Type::kLongRope: {
      const at::Device where = long_factors ? device : at::Device(at::kCPU);
      const at::Tensor ext = at::tensor(long_factors ? s.long_factor : s.short_factor, at::kDouble).to(where, at::kFloat);
      return 1.0 / (ext * powers(rope.theta, dim, where));
    }
  }
  return {};
}

// Dynamic NTK for sequence lengths `lengths` [n] (int64, each > max_positions): one row of frequencies each,
// with transformers' float32 arithmetic of base * ((factor * len / max) - (factor - 1)) ** (dim / (dim - 2)),
// on the lengths' device (HF recomputes them on the device the sequence runs on).
at::Tensor dynamic_frequencies(const RopeParameters& rope, std::int64_t dim, std::int64_t max_positions,
                               const at::Tensor& lengths) {
  const double factor = rope.scaling.factor;
  const at::Tensor grown = (lengths.to(at::kFloat) * factor / static_cast<double>(max_positions)) - (factor - 1);
  const at::Tensor base = at::pow(grown, static_cast<double>(dim) / static_cast<double>(dim - 2)) * rope.theta;
  const at::Tensor exponent =
      at::arange(0, dim, 2, lengths.options().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  return 1.0 / at::pow(base.unsqueeze(1), exponent.unsqueeze(0));  // [n, dim/2]
}

bool uses_long_factors(const RopeScaling& s, std::int64_t prompt_len) {
  return s.type == RopeScaling::Type::kLongRope && prompt_len > s.original_max_position_embeddings;
}

}  // namespace

at::Tensor rope_inverse_frequencies(const ModelConfig& config, std::int64_t prompt_len) {
  const RopeParameters rope{config.rope_theta, config.rope_scaling};
  const std::int64_t dim = config.rotary_dim > 0 ? config.rotary_dim : config.head_dim;
  if (rope.scaling.type == RopeScaling::Type::kDynamic && prompt_len > config.max_position_embeddings)
    return dynamic_frequencies(rope, dim, config.max_position_embeddings, at::full({1}, prompt_len, at::kLong))[0];
  return base_frequencies(rope, dim, uses_long_factors(rope.scaling, prompt_len)).contiguous();
}

RotaryEmbedding::RotaryEmbedding(const RopeParameters& rope, std::int64_t rotary_dim,
                                 std::int64_t max_position_embeddings, at::Device device)
    : rope_(rope), rotary_dim_(rotary_dim), max_positions_(max_position_embeddings), device_(device) {
  inv_freq_ = base_frequencies(rope_, rotary_dim_, false).contiguous().to(device);
  if (rope_.scaling.type == RopeScaling::Type::kLongRope)
    long_inv_freq_ = base_frequencies(rope_, rotary_dim_, true, device).contiguous();
}

at::Tensor RotaryEmbedding::inverse_frequencies(std::int64_t prompt_len) const {
  if (rope_.scaling.type == RopeScaling::Type::kDynamic && prompt_len > max_positions_)
    return dynamic_frequencies(rope_, rotary_dim_, max_positions_,
                               at::full({1}, prompt_len, at::TensorOptions().dtype(at::kLong).device(device_)))[0];
  return uses_long_factors(rope_.scaling, prompt_len) ? long_inv_freq_ : inv_freq_;
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::tables(const at::Tensor& positions, at::ScalarType dtype,
                                                          std::int64_t prompt_len) const {
  const at::Tensor pos = positions.to(at::kFloat).unsqueeze(1);  // [n, 1]
  at::Tensor freqs;                                              // [n, rotary_dim/2]
  if (rope_.scaling.type == RopeScaling::Type::kDynamic) {
    // Each row rotates with the length its forward pass reaches: the prompt's, or (decode) its own position + 1.
    const at::Tensor lengths = at::clamp_min(positions.to(at::kLong) + 1, prompt_len).to(at::kCPU);
    const bool grown = lengths.numel() > 0 && lengths.max().item<std::int64_t>() > max_positions_;
    if (grown) {
      const at::Tensor rows = dynamic_frequencies(rope_, rotary_dim_, max_positions_, lengths.to(device_));
      const at::Tensor within = (lengths <= max_positions_).to(device_).unsqueeze(1);
      freqs = pos * at::where(within, inv_freq_.unsqueeze(0), rows);
    } else {
      freqs = pos * inv_freq_.unsqueeze(0);
    }
  } else {
    freqs = pos * (uses_long_factors(rope_.scaling, prompt_len) ? long_inv_freq_ : inv_freq_).unsqueeze(0);
  }
  const at::Tensor emb = at::cat({freqs, freqs}, /*dim=*/1);  // [n, rotary_dim]
  const double factor = rope_.scaling.attention_factor;
  if (factor == 1.0) return {emb.cos().to(dtype), emb.sin().to(dtype)};
  return {(emb.cos() * factor).to(dtype), (emb.sin() * factor).to(dtype)};
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const std::int64_t r = cos.size(-1), d = x.size(-1);
  if (r == d) return ops::rotate(x, cos, sin);
  // Partial rotary (Phi-3.5, Phi-4-mini): HF rotates x[..., :r] and concatenates the rest unchanged.
  return at::cat({ops::rotate(x.narrow(-1, 0, r), cos, sin), x.narrow(-1, r, d - r)}, -1);
}

RopeTables RopeTables::narrow(std::int64_t start, std::int64_t n) const {
  RopeTables out;
  for (std::size_t i = 0; i < cos.size(); ++i) {
    out.cos.push_back(cos[i].narrow(0, start, n));
    out.sin.push_back(sin[i].narrow(0, start, n));
  }
  return out;
}

RopeTables RopeTables::row(std::int64_t row, std::int64_t copies) const {
  RopeTables out;
  for (std::size_t i = 0; i < cos.size(); ++i) {
    out.cos.push_back(cos[i].narrow(0, row, 1).expand({copies, cos[i].size(1)}));
    out.sin.push_back(sin[i].narrow(0, row, 1).expand({copies, sin[i].size(1)}));
  }
  return out;
}

}  // namespace kvbench
