#include "harness/model/transformer.h"

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
}  // namespace

std::vector<WeightSpec> weight_specs(const ModelConfig& c) {
  const std::int64_t D = c.hidden_size, d = c.head_dim, Hq = c.num_heads, Hkv = c.num_kv_heads;
  const std::int64_t I = c.intermediate_size, V = c.vocab_size;
  std::vector<WeightSpec> specs = {{"model.embed_tokens.weight", {V, D}}, {"model.norm.weight", {D}}};
  if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {V, D}});
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    specs.push_back({p + "input_layernorm.weight", {D}});
    specs.push_back({p + "self_attn.q_proj.weight", {Hq * d, D}});
    specs.push_back({p + "self_attn.k_proj.weight", {Hkv * d, D}});
    specs.push_back({p + "self_attn.v_proj.weight", {Hkv * d, D}});
    if (c.qkv_bias) {
      specs.push_back({p + "self_attn.q_proj.bias", {Hq * d}});
      specs.push_back({p + "self_attn.k_proj.bias", {Hkv * d}});
      specs.push_back({p + "self_attn.v_proj.bias", {Hkv * d}});
    }
    specs.push_back({p + "self_attn.o_proj.weight", {D, Hq * d}});
    if (c.o_bias) specs.push_back({p + "self_attn.o_proj.bias", {D}});
    specs.push_back({p + "post_attention_layernorm.weight", {D}});
    specs.push_back({p + "mlp.gate_proj.weight", {I, D}});
    specs.push_back({p + "mlp.up_proj.weight", {I, D}});
    specs.push_back({p + "mlp.down_proj.weight", {D, I}});
    if (c.mlp_bias) {
      specs.push_back({p + "mlp.gate_proj.bias", {I}});
      specs.push_back({p + "mlp.up_proj.bias", {I}});
      specs.push_back({p + "mlp.down_proj.bias", {D}});
    }
  }
  return specs;
}

void verify_checkpoint(const ModelConfig& config, const Checkpoint& ckpt) {
  for (const WeightSpec& spec : weight_specs(config)) ckpt.check(spec.name, spec.shape);
}

Transformer::Transformer(ModelConfig config, at::Device device, at::ScalarType dtype)
    : config_(std::move(config)), device_(device), dtype_(dtype), rope_(config_, device) {}

std::unique_ptr<Transformer> Transformer::load(const std::string& model_dir, at::Device device,
                                               at::ScalarType dtype) {
  ModelConfig config = load_model_config(model_dir);
  KV_CHECK(!(device.is_cpu() && dtype == at::kHalf), "f16 is not supported on the CPU (libtorch has no CPU f16 "
           "matrix products there); use f32 or bf16");
  const Checkpoint ckpt(model_dir);
  verify_checkpoint(config, ckpt);  // every name, shape and dtype, before any data is read
  std::unique_ptr<Transformer> model(new Transformer(config, device, dtype));
  const ModelConfig& c = model->config_;
  // Shapes were verified above; load() checks them again against the header it reads from. Weights that are
  // NaN or infinite (a corrupt file, or values past the compute dtype's range) would give meaningless numbers,
  // not an error: one reduction per tensor on its device refuses them.
  auto get = [&](const std::string& name) {
    const at::Tensor t = ckpt.load(name, ckpt.info(name).shape, dtype, device);
    KV_CHECK(at::isfinite(t).all().item<bool>(), model_dir, ": tensor ", name, " holds NaN or infinite values in ",
             short_dtype_name(dtype), " (", (at::isnan(t).sum().item<std::int64_t>()), " NaN)");
    return t;
  };

  model->embed_tokens_ = get("model.embed_tokens.weight");
  model->final_norm_ = get("model.norm.weight");
  // Tied checkpoints may still carry an lm_head copy; HF uses the embedding then, and so do we.
  model->lm_head_ = c.tie_word_embeddings ? model->embed_tokens_ : get("lm_head.weight");

  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights w;
    w.attn_norm = get(p + "input_layernorm.weight");
    w.qkv_weight = at::cat({get(p + "self_attn.q_proj.weight"), get(p + "self_attn.k_proj.weight"),
                            get(p + "self_attn.v_proj.weight")});
    if (c.qkv_bias) {
      w.qkv_bias = at::cat({get(p + "self_attn.q_proj.bias"), get(p + "self_attn.k_proj.bias"),
                            get(p + "self_attn.v_proj.bias")});
    }
    w.o_weight = get(p + "self_attn.o_proj.weight");
    if (c.o_bias) w.o_bias = get(p + "self_attn.o_proj.bias");
    w.mlp_norm = get(p + "post_attention_layernorm.weight");
    w.gate_up_weight = at::cat({get(p + "mlp.gate_proj.weight"), get(p + "mlp.up_proj.weight")});
    w.down_weight = get(p + "mlp.down_proj.weight");
    if (c.mlp_bias) {
      w.gate_up_bias = at::cat({get(p + "mlp.gate_proj.bias"), get(p + "mlp.up_proj.bias")});
      w.down_bias = get(p + "mlp.down_proj.bias");
    }
    model->layers_.push_back(std::move(w));
  }

  std::int64_t params = model->embed_tokens_.numel() + model->final_norm_.numel();
  if (!model->lm_head_.is_same(model->embed_tokens_)) params += model->lm_head_.numel();
  for (const auto& w : model->layers_) {
    for (const at::Tensor* t : {&w.attn_norm, &w.qkv_weight, &w.qkv_bias, &w.o_weight, &w.o_bias, &w.mlp_norm,
                                &w.gate_up_weight, &w.gate_up_bias, &w.down_weight, &w.down_bias})
      if (t->defined()) params += t->numel();
  }
  model->parameter_count_ = params;
  log::info("loaded ", c.architecture, " (", c.num_layers, " layers, ", log::fixed(params / 1e6, 1),
            "M parameters) from ", model_dir);
  return model;
}

at::Tensor Transformer::embed(const at::Tensor& ids) const { return embed_tokens_.index_select(0, ids); }

at::Tensor Transformer::qkv(std::int64_t layer, const at::Tensor& hidden) const {
  const LayerWeights& w = layers_[layer];
  return linear(ops::rms_norm(hidden, w.attn_norm, config_.rms_norm_eps), w.qkv_weight, w.qkv_bias);
}

QkvProjection Transformer::project_qkv(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& cos,
                                       const at::Tensor& sin) const {
  const std::int64_t n = hidden.size(0), d = config_.head_dim, Hq = config_.num_heads, Hkv = config_.num_kv_heads;
  const at::Tensor fused = qkv(layer, hidden);
  QkvProjection out;
  if (ops::fused(fused)) {
    out.q = at::empty({n, Hq, d}, fused.options());
    out.k = at::empty({n, Hkv, d}, fused.options());
    out.v = at::empty({n, Hkv, d}, fused.options());
    ops::rope_split(fused, cos, sin, Hq, Hkv, out.q, out.k, out.v);
    return out;
  }
  const auto parts = fused.split_with_sizes({Hq * d, Hkv * d, Hkv * d}, /*dim=*/1);
  out.q = RotaryEmbedding::apply(parts[0].view({n, Hq, d}), cos, sin);
  out.k = RotaryEmbedding::apply(parts[1].view({n, Hkv, d}), cos, sin);
  out.v = parts[2].view({n, Hkv, d});
  return out;
}

void Transformer::project_qkv_into(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& cos,
                                   const at::Tensor& sin, const at::Tensor& q_out, const at::Tensor& k_out,
                                   const at::Tensor& v_out) const {
  const at::Tensor fused = qkv(layer, hidden);
  if (ops::fused(fused)) {
    ops::rope_split(fused, cos, sin, config_.num_heads, config_.num_kv_heads, q_out, k_out, v_out);
    return;
  }
  const QkvProjection p = project_qkv(layer, hidden, cos, sin);
  q_out.copy_(p.q);
  k_out.copy_(p.k);
  v_out.copy_(p.v);
}

at::Tensor Transformer::finish_layer(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const {
  const LayerWeights& w = layers_[layer];
  const at::Tensor h = hidden + linear(attn, w.o_weight, w.o_bias);
  const at::Tensor gate_up = linear(ops::rms_norm(h, w.mlp_norm, config_.rms_norm_eps), w.gate_up_weight, w.gate_up_bias);
  return h + linear(ops::silu_mul(gate_up), w.down_weight, w.down_bias);
}

void Transformer::finish_layer_(std::int64_t layer, const at::Tensor& hidden, const at::Tensor& attn) const {
  if (!ops::fused(hidden)) {  // the CPU keeps the reference arithmetic
    hidden.copy_(finish_layer(layer, hidden, attn));
    return;
  }
  const LayerWeights& w = layers_[layer];
  add_linear_(hidden, attn, w.o_weight, w.o_bias);
  const at::Tensor gate_up =
      linear(ops::rms_norm(hidden, w.mlp_norm, config_.rms_norm_eps), w.gate_up_weight, w.gate_up_bias);
  add_linear_(hidden, ops::silu_mul(gate_up), w.down_weight, w.down_bias);
}

at::Tensor Transformer::logits(const at::Tensor& hidden) const {
  return at::matmul(ops::rms_norm(hidden, final_norm_, config_.rms_norm_eps), lm_head_.t()).to(at::kFloat);
}

}  // namespace kvbench
