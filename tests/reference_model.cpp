#include "tests/reference_model.h"

#include <algorithm>
#include <cmath>

namespace kvbench::test {

ReferenceModel::ReferenceModel(const std::map<std::string, at::Tensor>& weights, const RandomModelSpec& spec)
    : ReferenceModel(weights, parse_model_config(random_model_config(spec), "reference")) {}

ReferenceModel::ReferenceModel(const std::map<std::string, at::Tensor>& weights, ModelConfig config)
    : c_(std::move(config)), prefix_(c_.layout.prefixes.front()) {
  for (const auto& [name, t] : weights) weights_[name] = t.to(at::kDouble);
}

at::Tensor ReferenceModel::w(const std::string& name) const {
  auto it = weights_.find(name);
  return it == weights_.end() ? at::Tensor() : it->second;
}

std::vector<double> ReferenceModel::inv_freq(std::int64_t l, std::int64_t length, std::int64_t prompt_len,
                                             double* factor) const {
  const RopeParameters rope = c_.rope_for(l);
  const RopeScaling& s = rope.scaling;
  const std::int64_t r = c_.rotary_dim;
  const double dim = static_cast<double>(r);
  *factor = s.attention_factor;
  double theta = rope.theta;
  // Dynamic NTK: a forward pass reaching `length` > max_position_embeddings grows the base.
  if (s.type == RopeScaling::Type::kDynamic && length > c_.max_position_embeddings) {
    const double grown = s.factor * static_cast<double>(length) / static_cast<double>(c_.max_position_embeddings) - (s.factor - 1);
    theta *= std::pow(grown, dim / (dim - 2));
  }
  // YaRN's correction range: dims rotating more than beta_fast times over the original context are kept,
  // fewer than beta_slow times interpolated, a linear ramp between.
  double low = 0, high = 0;
  if (s.type == RopeScaling::Type::kYarn) {
    const double original = static_cast<double>(s.original_max_position_embeddings);
    auto dim_of = [&](double rotations) { return dim * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(theta)); };
    low = dim_of(s.beta_fast);
    high = dim_of(s.beta_slow);
    if (s.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1);
    if (low == high) high += 0.001;
  }
  const bool long_factors = prompt_len > s.original_max_position_embeddings;
  std::vector<double> out;
  for (std::int64_t i = 0; i < r / 2; ++i) {
    const double base = std::pow(theta, -2.0 * static_cast<double>(i) / dim);
    double f = base;
    switch (s.type) {
      case RopeScaling::Type::kNone:
      case RopeScaling::Type::kDynamic: break;
      case RopeScaling::Type::kLinear: f = base / s.factor; break;
      case RopeScaling::Type::kLlama3: {
        const double original = static_cast<double>(s.original_max_position_embeddings);
        const double wavelen = 2 * M_PI / base;
        if (wavelen < original / s.high_freq_factor) {
          f = base;  // high frequency: unchanged
        } else if (wavelen > original / s.low_freq_factor) {
          f = base / s.factor;  // low frequency: fully interpolated
        } else {
          const double smooth = (original / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
          f = (1 - smooth) * base / s.factor + smooth * base;
        }
        break;
      }
      case RopeScaling::Type::kYarn: {
        const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
        const double keep = 1 - ramp;  // share of the extrapolated (unscaled) frequency
        f = base / s.factor * (1 - keep) + base * keep;
        break;
      }
      case RopeScaling::Type::kLongRope:
        f = base / (long_factors ? s.long_factor : s.short_factor)[static_cast<std::size_t>(i)];
        break;
    }
    out.push_back(f);
  }
  return out;
}

at::Tensor ReferenceModel::causal_mask(std::int64_t S) const {
  const std::int64_t L = c_.num_layers, H = c_.num_kv_heads;
  at::Tensor mask = at::ones({S, S}, at::kBool).tril().expand({L, H, S, S}).clone();
  auto m = mask.accessor<bool, 4>();
  for (std::int64_t l = 0; l < L; ++l)
    if (c_.is_sliding(l))
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t q = 0; q < S; ++q)
          for (std::int64_t k = 0; k <= q - c_.sliding_window; ++k) m[l][h][q][k] = false;
  return mask;
}

at::Tensor ReferenceModel::eviction_mask(std::int64_t S, std::int64_t T,
                                         const std::vector<std::vector<std::vector<std::int64_t>>>& kept) const {
  // One mask row per cache head: KV heads, or query heads for a per-query-head cache.
  const std::int64_t H = kept.empty() ? c_.num_kv_heads : static_cast<std::int64_t>(kept[0].size());
  at::Tensor mask = causal_mask(S).narrow(1, 0, 1).expand({c_.num_layers, H, S, S}).clone();
  auto m = mask.accessor<bool, 4>();
  for (std::int64_t l = 0; l < c_.num_layers; ++l)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t q = T; q < S; ++q) {
        for (std::int64_t k = 0; k < T; ++k) m[l][h][q][k] = false;
        for (std::int64_t k : kept[l][h]) m[l][h][q][k] = !c_.is_sliding(l) || k > q - c_.sliding_window;
      }
  return mask;
}

namespace {
double activate(Activation a, double x) {
  switch (a) {
    case Activation::kSilu: return x / (1 + std::exp(-x));
    case Activation::kGeluTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::kGelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  }
  return x;
}

at::Tensor act(Activation a, const at::Tensor& x) {
  at::Tensor out = x.clone();
  auto* p = out.data_ptr<double>();
  for (std::int64_t i = 0; i < out.numel(); ++i) p[i] = activate(a, p[i]);
  return out;
}
}  // namespace

at::Tensor ReferenceModel::mlp(std::int64_t l, const at::Tensor& x) const {
  const std::string p = prefix_ + "layers." + std::to_string(l) + ".mlp.";
  auto gated = [&](const at::Tensor& h, const at::Tensor& gate, const at::Tensor& up, const at::Tensor& down) {
    return at::matmul(act(c_.activation, at::matmul(h, gate.t())) * at::matmul(h, up.t()), down.t());
  };
  if (!c_.is_moe(l)) {
    if (c_.layout.fused_gate_up) {
      const auto gu = w(p + "gate_up_proj.weight").chunk(2, 0);
      return gated(x, gu[0], gu[1], w(p + "down_proj.weight"));
    }
    auto lin = [&](const at::Tensor& h, const std::string& name) {
      at::Tensor y = at::matmul(h, w(p + name + ".weight").t());
      return w(p + name + ".bias").defined() ? y + w(p + name + ".bias") : y;
    };
    return lin(act(c_.activation, lin(x, "gate_proj")) * lin(x, "up_proj"), "down_proj");
  }
  // Experts, token by token: softmax over the router's logits, the k largest, renormalised or not.
  const at::Tensor router = w(p + "gate.weight"), gate_up = w(p + "experts.gate_up_proj"), down = w(p + "experts.down_proj");
  const std::int64_t I = c_.moe_intermediate_size;
  at::Tensor out = at::zeros_like(x);
  for (std::int64_t t = 0; t < x.size(0); ++t) {
    const at::Tensor probs = at::softmax(at::matmul(x[t], router.t()), -1);
    std::vector<std::pair<double, std::int64_t>> ranked;
    for (std::int64_t e = 0; e < probs.size(0); ++e) ranked.emplace_back(probs[e].item<double>(), e);
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    double total = 0;
    for (std::int64_t j = 0; j < c_.experts_per_token; ++j) total += ranked[static_cast<std::size_t>(j)].first;
    for (std::int64_t j = 0; j < c_.experts_per_token; ++j) {
      const auto [weight, e] = ranked[static_cast<std::size_t>(j)];
      const at::Tensor y = gated(x[t].unsqueeze(0), gate_up[e].narrow(0, 0, I), gate_up[e].narrow(0, I, I), down[e])[0];
      out[t] += (c_.norm_topk_prob ? weight / total : weight) * y;
    }
  }
  return out;
}

at::Tensor ReferenceModel::logits(const std::vector<std::int64_t>& ids, const at::Tensor& visible_in,
                                  std::int64_t prompt_len) const {
  const std::int64_t S = static_cast<std::int64_t>(ids.size()), d = c_.head_dim, r = c_.rotary_dim;
  const std::int64_t Hq = c_.num_heads, Hkv = c_.num_kv_heads, g = Hq / Hkv;
  const std::int64_t T = prompt_len > 0 ? prompt_len : S;
  const at::Tensor visible = visible_in.defined() ? visible_in : causal_mask(S);
  auto norm = [&](const at::Tensor& x, const at::Tensor& weight) {
    const at::Tensor n = x / at::sqrt(x.pow(2).mean(-1, true) + c_.rms_norm_eps);
    return c_.norm_unit_offset ? n * (1 + weight) : n * weight;
  };
  auto lin = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor y = at::matmul(x, w(name + ".weight").t());
    const at::Tensor b = w(name + ".bias");
    return b.defined() ? y + b : y;
  };
  // Rotate the pairs (i, i + r/2) of the leading r dims of a [S, d] head by angle pos * inv_freq[i], each row
  // with the frequencies of the forward pass it belongs to (the prompt's, or its own decode step's).
  auto rope = [&](std::int64_t l, const at::Tensor& x) {
    at::Tensor out = x.clone();
    auto in = x.accessor<double, 2>();
    auto o = out.accessor<double, 2>();
    for (std::int64_t p = 0; p < S; ++p) {
      double factor = 1.0;
      const std::vector<double> f = inv_freq(l, p < T ? T : p + 1, T, &factor);
      for (std::int64_t i = 0; i < r / 2; ++i) {
        const double a = static_cast<double>(p) * f[static_cast<std::size_t>(i)];
        const double c = std::cos(a) * factor, s = std::sin(a) * factor;
        o[p][i] = in[p][i] * c - in[p][i + r / 2] * s;
        o[p][i + r / 2] = in[p][i + r / 2] * c + in[p][i] * s;
      }
    }
    return out;
  };

  at::Tensor x = w(prefix_ + "embed_tokens.weight").index_select(0, at::tensor(ids, at::kLong));  // [S, D]
  if (c_.scale_embeddings) x = x * std::sqrt(static_cast<double>(c_.hidden_size));
  for (std::int64_t l = 0; l < c_.num_layers; ++l) {
    const std::string p = prefix_ + "layers." + std::to_string(l) + ".";
    const at::Tensor h = norm(x, w(p + "input_layernorm.weight"));
    at::Tensor q, k, v;
    if (c_.layout.fused_qkv) {
      const at::Tensor qkv = lin(h, p + "self_attn.qkv_proj");
      q = qkv.narrow(1, 0, Hq * d), k = qkv.narrow(1, Hq * d, Hkv * d), v = qkv.narrow(1, (Hq + Hkv) * d, Hkv * d);
    } else {
      q = lin(h, p + "self_attn.q_proj"), k = lin(h, p + "self_attn.k_proj"), v = lin(h, p + "self_attn.v_proj");
    }
    std::vector<at::Tensor> heads;
    for (std::int64_t hq = 0; hq < Hq; ++hq) {
      const std::int64_t hk = hq / g;
      at::Tensor qh = q.narrow(1, hq * d, d).contiguous(), kh = k.narrow(1, hk * d, d).contiguous();
      if (c_.qk_norm) {
        qh = norm(qh, w(p + "self_attn.q_norm.weight"));
        kh = norm(kh, w(p + "self_attn.k_norm.weight"));
      }
      qh = rope(l, qh.contiguous());
      kh = rope(l, kh.contiguous());
      at::Tensor scores = at::matmul(qh, kh.t()) * c_.attention_scale;
      if (c_.attn_logit_softcap > 0) scores = at::tanh(scores / c_.attn_logit_softcap) * c_.attn_logit_softcap;
      scores = scores.masked_fill(visible[l][visible.size(1) == Hq ? hq : hk].logical_not(), -INFINITY);
      heads.push_back(at::matmul(at::softmax(scores, -1), v.narrow(1, hk * d, d)));
    }
    at::Tensor attn = lin(at::cat(heads, 1), p + "self_attn.o_proj");
    if (c_.sandwich_norms) attn = norm(attn, w(p + "post_attention_layernorm.weight"));
    x = x + attn;
    const at::Tensor m = norm(x, w(p + (c_.sandwich_norms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")));
    at::Tensor y = mlp(l, m);
    if (c_.sandwich_norms) y = norm(y, w(p + "post_feedforward_layernorm.weight"));
    x = x + y;
  }
  const at::Tensor head = c_.tie_word_embeddings ? w(prefix_ + "embed_tokens.weight") : w(c_.layout.lm_head.front());
  at::Tensor logits = at::matmul(norm(x, w(prefix_ + "norm.weight")), head.t());
  if (c_.final_logit_softcap > 0) logits = at::tanh(logits / c_.final_logit_softcap) * c_.final_logit_softcap;
  return logits;
}

}  // namespace kvbench::test
