#include "harness/model/transformer.h"

#include <cmath>

#include "harness/common/error.h"
#include "harness/common/log.h"
#include "harness/device/ops.h"
#include "harness/model/checkpoint.h"
#include "harness/model/tensor_util.h"

namespace kvbench {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) { return ops::rms_norm(x, weight, eps); }

namespace {
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return bias.defined() ? at::addmm(bias, x, weight.t()) : at::matmul(x, weight.t());
}

// out += x W^T (+ bias), in place.
void add_linear_(const at::Tensor& out, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (bias.defined()) out.add_(bias);
  out.addmm_(x, weight.t());
}

// Reads a checkpoint's tensors onto the device in the compute dtype, refusing NaN and infinities.
struct TensorReader {
  const Checkpoint& ckpt;
  const std::string& dir;
  at::Device device;
  at::ScalarType dtype;

  at::Tensor operator()(const std::string& name) const {
    const at::Tensor t = ckpt.load(name, ckpt.info(name).shape, dtype, device);
    // Weights that are NaN or infinite (a corrupt file, or values past the compute dtype's range) would give
    // meaningless numbers, not an error: one reduction per tensor on its device refuses them.
    KV_CHECK(at::isfinite(t).all().item<bool>(), dir, ": tensor ", name, " holds NaN or infinite values in ",
             short_dtype_name(dtype), " (", (at::isnan(t).sum().item<std::int64_t>()), " NaN)");
    return t;
  }
  RmsNorm norm(const std::string& name, const ModelConfig& c) const { return {(*this)(name), c.rms_norm_eps, c.norm_unit_offset}; }
};

// The experts of MoE layer stem `b` ("<prefix>layers.L.mlp."), fused into [E, 2I, D] and [E, D, I] whatever
// the checkpoint's storage.
std::shared_ptr<const FeedForward> load_experts(const TensorReader& get, const ModelConfig& c,
                                                const CheckpointNames& names, const std::string& b) {
  at::Tensor gate_up, down;
  if (names.experts == ExpertStorage::kFused) {
    gate_up = get(b + "experts.gate_up_proj");
    down = get(b + "experts.down_proj");
  } else {
    const bool w123 = names.experts == ExpertStorage::kPerExpertW123;
    std::vector<at::Tensor> gu, dn;
    for (std::int64_t e = 0; e < c.num_experts; ++e) {
      const std::string x = b + "experts." + std::to_string(e) + ".";
      gu.push_back(at::cat({get(x + (w123 ? "w1.weight" : "gate_proj.weight")),
                            get(x + (w123 ? "w3.weight" : "up_proj.weight"))}));
      dn.push_back(get(x + (w123 ? "w2.weight" : "down_proj.weight")));
    }
    gate_up = at::stack(gu);
    down = at::stack(dn);
  }
  return std::make_shared<ExpertMlp>(get(b + "gate.weight"), gate_up.contiguous(), down.contiguous(),
                                     c.experts_per_token, c.norm_topk_prob, c.activation);
}

LayerWeights load_layer(const TensorReader& get, const ModelConfig& c, const CheckpointNames& names, std::int64_t l) {
  const std::string p = names.prefix + "layers." + std::to_string(l) + ".";
  LayerWeights w;
  w.attn_norm = get.norm(p + "input_layernorm.weight", c);
  if (c.layout.fused_qkv) {
    w.qkv_weight = get(p + "self_attn.qkv_proj.weight");
    if (c.qkv_bias) w.qkv_bias = get(p + "self_attn.qkv_proj.bias");
  } else {
    w.qkv_weight = at::cat({get(p + "self_attn.q_proj.weight"), get(p + "self_attn.k_proj.weight"),
                            get(p + "self_attn.v_proj.weight")});
    if (c.qkv_bias)
      w.qkv_bias = at::cat({get(p + "self_attn.q_proj.bias"), get(p + "self_attn.k_proj.bias"),
                            get(p + "self_attn.v_proj.bias")});
  }
  if (c.qk_norm) {
    w.q_norm = get.norm(p + "self_attn.q_norm.weight", c);
    w.k_norm = get.norm(p + "self_attn.k_norm.weight", c);
  }
  w.o_weight = get(p + "self_attn.o_proj.weight");
  if (c.o_bias) w.o_bias = get(p + "self_attn.o_proj.bias");
  if (c.sandwich_norms) {
    w.post_attn_norm = get.norm(p + "post_attention_layernorm.weight", c);
    w.mlp_norm = get.norm(p + "pre_feedforward_layernorm.weight", c);
    w.post_mlp_norm = get.norm(p + "post_feedforward_layernorm.weight", c);
  } else {
    w.mlp_norm = get.norm(p + "post_attention_layernorm.weight", c);
  }
  if (c.is_moe(l)) {
    w.mlp = load_experts(get, c, names, p + names.moe);
  } else if (c.layout.fused_gate_up) {
    w.mlp = std::make_shared<GatedMlp>(get(p + "mlp.gate_up_proj.weight"), at::Tensor(), get(p + "mlp.down_proj.weight"),
                                       at::Tensor(), c.activation);
  } else {
    at::Tensor gate_up_bias, down_bias;
    if (c.mlp_bias) {
      gate_up_bias = at::cat({get(p + "mlp.gate_proj.bias"), get(p + "mlp.up_proj.bias")});
      down_bias = get(p + "mlp.down_proj.bias");
    }
    w.mlp = std::make_shared<GatedMlp>(at::cat({get(p + "mlp.gate_proj.weight"), get(p + "mlp.up_proj.weight")}),
                                       gate_up_bias, get(p + "mlp.down_proj.weight"), down_bias, c.activation);
  }
  w.attention.scale = c.attention_scale;
  w.attention.softcap = c.attn_logit_softcap;
  w.attention.window = c.is_sliding(l) ? c.sliding_window : 0;
  w.rope = c.sliding_rope && c.is_sliding(l) ? 1 : 0;
  return w;
}

std::int64_t elements(const at::Tensor& t) { return t.defined() ? t.numel() : 0; }
}  // namespace

Transformer::Transformer(ModelConfig config, at::Device device, at::ScalarType dtype)
    : config_(std::move(config)), device_(device), dtype_(dtype) {
  const ModelConfig& c = config_;
  ropes_.emplace_back(RopeParameters{c.rope_theta, c.rope_scaling}, c.rotary_dim, c.max_position_embeddings, device);
  if (c.sliding_rope) ropes_.emplace_back(*c.sliding_rope, c.rotary_dim, c.max_position_embeddings, device);
}

std::unique_ptr<Transformer> Transformer::load(const std::string& model_dir, at::Device device,
                                               at::ScalarType dtype) {
  ModelConfig config = load_model_config(model_dir);
  KV_CHECK(!(device.is_cpu() && dtype == at::kHalf), "f16 is not supported on the CPU (libtorch has no CPU f16 "
           "matrix products there); use f32 or bf16");
  const Checkpoint ckpt(model_dir);
  verify_checkpoint(config, ckpt);  // every name, shape and dtype, before any data is read
  std::unique_ptr<Transformer> model(new Transformer(config, device, dtype));
  const ModelConfig& c = model->config_;
  const CheckpointNames names = CheckpointNames::of(c, ckpt);
  const TensorReader get{ckpt, model_dir, device, dtype};

  model->embed_tokens_ = get(names.prefix + "embed_tokens.weight");
  // Gemma: HF multiplies by sqrt(hidden) held in the model dtype (55.4256 becomes 55.5 in bf16).
  if (c.scale_embeddings)
    model->embed_scale_ =
        at::scalar_tensor(std::sqrt(static_cast<double>(c.hidden_size)), at::kFloat).to(dtype).to(device);
  model->final_norm_ = get.norm(names.prefix + "norm.weight", c);
  // Tied checkpoints may still carry an lm_head copy; HF uses the embedding then, and so do we.
  model->lm_head_ = c.tie_word_embeddings ? model->embed_tokens_ : get(names.lm_head);
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    model->layers_.push_back(load_layer(get, c, names, l));
    model->capturable_ = model->capturable_ && model->layers_.back().mlp->capturable();
  }

  std::int64_t params = model->embed_tokens_.numel() + model->final_norm_.weight.numel();
  if (!model->lm_head_.is_same(model->embed_tokens_)) params += model->lm_head_.numel();
  for (const auto& w : model->layers_) {
    for (const at::Tensor* t : {&w.attn_norm.weight, &w.qkv_weight, &w.qkv_bias, &w.q_norm.weight, &w.k_norm.weight,
                                &w.o_weight, &w.o_bias, &w.post_attn_norm.weight, &w.mlp_norm.weight,
                                &w.post_mlp_norm.weight})
      params += elements(*t);
    params += w.mlp->parameter_count();
  }
  model->parameter_count_ = params;
  log::info("loaded ", c.architecture, " (", c.num_layers, " layers, ", log::fixed(params / 1e6, 1),
            "M parameters) from ", model_dir);
  return model;
}

RopeTables Transformer::rope_tables(const at::Tensor& positions, std::int64_t prompt_len) const {
  RopeTables t;
  for (const RotaryEmbedding& rope : ropes_) {
    auto [cos, sin] = rope.tables(positions, dtype_, prompt_len);
    t.cos.push_back(std::move(cos));
    t.sin.push_back(std::move(sin));
  }
  return t;
}

at::Tensor Transformer::embed(const at::Tensor& ids) const {
  const at::Tensor x = embed_tokens_.index_select(0, ids);
  return embed_scale_.defined() ? x * embed_scale_ : x;
}

at::Tensor Transformer::qkv(std::int64_t layer, const at::Tensor& hidden) const {
  const LayerWeights& w = layers_[static_cast<std::size_t>(layer)];
  at::Tensor fused = linear(w.attn_norm(hidden), w.qkv_weight, w.qkv_bias);
  if (!w.q_norm.defined()) return fused;
  // Qwen3 and Gemma 3 normalize each q and k head before RoPE: in place, so the fused layout stays.
  const std::int64_t n = fused.size(0), d = config_.head_dim, Hq = config_.num_heads, Hkv = config_.num_kv_heads;
  const at::Tensor q = fused.narrow(1, 0, Hq * d), k = fused.narrow(1, Hq * d, Hkv * d);
  q.copy_(w.q_norm(q.reshape({n, Hq, d})).view({n, Hq * d}));
  k.copy_(w.k_norm(k.reshape({n, Hkv, d})).view({n, Hkv * d}));
  return fused;
}

bool Transformer::fused_rope(std::int64_t) const { return config_.rotary_dim == config_.head_dim; }

QkvProjection Transformer::project_qkv(std::int64_t layer, const at::Tensor& hidden, const RopeTables& tables) const {
  const std::int64_t n = hidden.size(0), d = config_.head_dim, Hq = config_.num_heads, Hkv = config_.num_kv_heads;
  const std::size_t r = layers_[static_cast<std::size_t>(layer)].rope;
  const at::Tensor fused = qkv(layer, hidden);
  QkvProjection out;
  if (ops::fused(fused) && fused_rope(layer)) {
    out.q = at::empty({n, Hq, d}, fused.options());
    out.k = at::empty({n, Hkv, d}, fused.options());
    out.v = at::empty({n, Hkv, d}, fused.options());
    ops::rope_split(fused, tables.cos[r], tables.sin[r], Hq, Hkv, out.q, out.k, out.v);
    return out;
  }
  const auto parts = fused.split_with_sizes({Hq * d, Hkv * d, Hkv * d}, /*dim=*/1);
  out.q = RotaryEmbedding::apply(parts[0].view({n, Hq, d}), tables.cos[r], tables.sin[r]);
  out.k = RotaryEmbedding::apply(parts[1].view({n, Hkv, d}), tables.cos[r], tables.sin[r]);
  out.v = parts[2].view({n, Hkv, d});
  return out;
}

void Transformer::project_qkv_into(std::int64_t layer, const at::Tensor& hidden, const RopeTables& tables,
                                   const at::Tensor& q_out, const at::Tensor& k_out, const at::Tensor& v_out) const {
  const at::Tensor fused = qkv(layer, hidden);
  if (ops::fused(fused) && fused_rope(layer)) {
    const std::size_t r = layers_[static_cast<std::size_t>(layer)].rope;
    ops::rope_split(fused, tables.cos[r], tables.sin[r], config_.num_heads, config_.num_kv_heads, q_out, k_out, v_out);
    return;
  }
  const QkvProjection p = project_qkv(layer, hidden, tables);
  q_out.copy_(p.q);
  k_out.copy_(p.k);
  v_out.copy_(p.v);
}

at::Tensor Transformer::finish_layer(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const {
  const LayerWeights& w = layers_[static_cast<std::size_t>(layer)];
  const at::Tensor h = hidden + w.post_attn_norm(linear(attn, w.o_weight, w.o_bias));
  return h + w.post_mlp_norm(w.mlp->forward(w.mlp_norm(h)));
}

void Transformer::finish_layer_(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const {
  if (!ops::fused(hidden)) {  // the CPU keeps the reference arithmetic
    hidden.copy_(finish_layer(layer, hidden, attn));
    return;
  }
  const LayerWeights& w = layers_[static_cast<std::size_t>(layer)];
  if (w.post_attn_norm.defined()) {
    hidden.add_(w.post_attn_norm(linear(attn, w.o_weight, w.o_bias)));
  } else {
    add_linear_(hidden, attn, w.o_weight, w.o_bias);
  }
  if (w.post_mlp_norm.defined()) {
    hidden.add_(w.post_mlp_norm(w.mlp->forward(w.mlp_norm(hidden))));
  } else {
    w.mlp->add_forward_(hidden, w.mlp_norm(hidden));
  }
}

at::Tensor Transformer::logits(const at::Tensor& hidden) const {
  at::Tensor logits = at::matmul(final_norm_(hidden), lm_head_.t());
  const double cap = config_.final_logit_softcap;
  if (cap > 0) logits = at::tanh(logits / cap) * cap;  // Gemma 2, in the model dtype as HF
  return logits.to(at::kFloat);
}

}  // namespace kvbench
