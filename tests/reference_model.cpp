#include "tests/reference_model.h"

#include <cmath>

namespace kvbench::test {

ReferenceModel::ReferenceModel(const std::map<std::string, at::Tensor>& weights, const RandomModelSpec& spec)
    : layers_(spec.num_layers),
      heads_(spec.num_heads),
      kv_heads_(spec.num_kv_heads),
      head_dim_(spec.hidden_size / spec.num_heads),
      eps_(random_model_config(spec).at("rms_norm_eps").get<double>()),
      tied_(spec.tie_word_embeddings) {
  for (const auto& [name, t] : weights) weights_[name] = t.to(at::kDouble);
  // RoPE frequencies, one at a time, straight from the published schedules.
  const auto& scaling = spec.rope_scaling;
  const std::string type = scaling.is_null() ? "default"
                           : scaling.contains("rope_type") ? scaling["rope_type"].get<std::string>()
                                                           : scaling["type"].get<std::string>();
  for (std::int64_t i = 0; i < head_dim_ / 2; ++i) {
    const double base = std::pow(spec.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim_));
    double f = base;
    if (type == "linear") {
      f = base / scaling["factor"].get<double>();
    } else if (type == "llama3") {
      const double factor = scaling["factor"], low = scaling["low_freq_factor"], high = scaling["high_freq_factor"];
      const double original = scaling["original_max_position_embeddings"];
      const double wavelen = 2 * M_PI / base;
      if (wavelen < original / high) {
        f = base;  // high frequency: unchanged
      } else if (wavelen > original / low) {
        f = base / factor;  // low frequency: fully interpolated
      } else {
        const double smooth = (original / wavelen - low) / (high - low);
        f = (1 - smooth) * base / factor + smooth * base;
      }
    }
    inv_freq_.push_back(f);
  }
}

at::Tensor ReferenceModel::w(const std::string& name) const {
  auto it = weights_.find(name);
  return it == weights_.end() ? at::Tensor() : it->second;
}

at::Tensor ReferenceModel::causal_mask(std::int64_t S) const {
  return at::ones({S, S}, at::kBool).tril().expand({layers_, kv_heads_, S, S}).clone();
}

at::Tensor ReferenceModel::eviction_mask(std::int64_t S, std::int64_t T,
                                         const std::vector<std::vector<std::vector<std::int64_t>>>& kept) const {
  // One mask row per cache head: KV heads, or query heads for a per-query-head cache.
  const std::int64_t H = kept.empty() ? kv_heads_ : static_cast<std::int64_t>(kept[0].size());
  at::Tensor mask = causal_mask(S).narrow(1, 0, 1).expand({layers_, H, S, S}).clone();
  auto m = mask.accessor<bool, 4>();
  for (std::int64_t l = 0; l < layers_; ++l)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t q = T; q < S; ++q) {
        for (std::int64_t k = 0; k < T; ++k) m[l][h][q][k] = false;
        for (std::int64_t k : kept[l][h]) m[l][h][q][k] = true;
      }
  return mask;
}

at::Tensor ReferenceModel::logits(const std::vector<std::int64_t>& ids, const at::Tensor& visible_in) const {
  const std::int64_t S = static_cast<std::int64_t>(ids.size()), d = head_dim_, g = heads_ / kv_heads_;
  const at::Tensor visible = visible_in.defined() ? visible_in : causal_mask(S);
  auto rms = [&](const at::Tensor& x, const at::Tensor& weight) {
    return x / at::sqrt(x.pow(2).mean(-1, true) + eps_) * weight;
  };
  auto lin = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor y = at::matmul(x, w(name + ".weight").t());
    const at::Tensor b = w(name + ".bias");
    return b.defined() ? y + b : y;
  };
  // Rotate each pair (i, i + d/2) of a [S, d] head by angle pos * inv_freq[i].
  auto rope = [&](const at::Tensor& x) {
    at::Tensor out = x.clone();
    auto in = x.accessor<double, 2>();
    auto o = out.accessor<double, 2>();
    for (std::int64_t p = 0; p < S; ++p)
      for (std::int64_t i = 0; i < d / 2; ++i) {
        const double a = static_cast<double>(p) * inv_freq_[i], c = std::cos(a), s = std::sin(a);
        o[p][i] = in[p][i] * c - in[p][i + d / 2] * s;
        o[p][i + d / 2] = in[p][i + d / 2] * c + in[p][i] * s;
      }
    return out;
  };

  std::vector<std::int64_t> idx(ids);
  at::Tensor x = w("model.embed_tokens.weight").index_select(0, at::tensor(idx, at::kLong));  // [S, D]
  for (std::int64_t l = 0; l < layers_; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const at::Tensor h = rms(x, w(p + "input_layernorm.weight"));
    const at::Tensor q = lin(h, p + "self_attn.q_proj"), k = lin(h, p + "self_attn.k_proj"), v = lin(h, p + "self_attn.v_proj");
    std::vector<at::Tensor> heads;
    for (std::int64_t hq = 0; hq < heads_; ++hq) {
      const std::int64_t hk = hq / g;
      const at::Tensor qh = rope(q.narrow(1, hq * d, d).contiguous());
      const at::Tensor kh = rope(k.narrow(1, hk * d, d).contiguous());
      const at::Tensor vh = v.narrow(1, hk * d, d);
      at::Tensor scores = at::matmul(qh, kh.t()) / std::sqrt(static_cast<double>(d));
      scores = scores.masked_fill(visible[l][visible.size(1) == heads_ ? hq : hk].logical_not(), -INFINITY);
      heads.push_back(at::matmul(at::softmax(scores, -1), vh));
    }
    x = x + lin(at::cat(heads, 1), p + "self_attn.o_proj");
    const at::Tensor m = rms(x, w(p + "post_attention_layernorm.weight"));
    x = x + lin(at::silu(lin(m, p + "mlp.gate_proj")) * lin(m, p + "mlp.up_proj"), p + "mlp.down_proj");
  }
  const at::Tensor head = tied_ ? w("model.embed_tokens.weight") : w("lm_head.weight");
  return at::matmul(rms(x, w("model.norm.weight")), head.t());
}

}  // namespace kvbench::test
