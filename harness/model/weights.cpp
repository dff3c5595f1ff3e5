#include "harness/model/weights.h"

#include "harness/common/error.h"
#include "harness/model/checkpoint.h"

namespace kvbench {

CheckpointNames CheckpointNames::canonical(const ModelConfig& config) {
  CheckpointNames n;
  n.prefix = config.layout.prefixes.front();
  n.lm_head = config.layout.lm_head.front();
  return n;
}

namespace {
// The first MoE layer's name stem, or "" when the model has none.
std::string first_moe_layer(const ModelConfig& c, const std::string& prefix) {
  for (std::int64_t l = 0; l < c.num_layers; ++l)
    if (c.is_moe(l)) return prefix + "layers." + std::to_string(l) + ".";
  return "";
}
}  // namespace

CheckpointNames CheckpointNames::of(const ModelConfig& config, const Checkpoint& ckpt) {
  CheckpointNames n = canonical(config);
  for (const std::string& p : config.layout.prefixes) {
    if (ckpt.contains(p + "embed_tokens.weight")) {
      n.prefix = p;
      break;
    }
  }
  if (!config.tie_word_embeddings) {
    for (const std::string& name : config.layout.lm_head) {
      if (ckpt.contains(name)) {
        n.lm_head = name;
        break;
      }
    }
  }
  const std::string layer = first_moe_layer(config, n.prefix);
  if (layer.empty()) return n;
  // transformers 5 fuses the experts; checkpoints written before keep one module per expert (Mixtral's under
  // block_sparse_moe, as w1 = gate, w3 = up, w2 = down).
  struct Option {
    const char* block;
    ExpertStorage storage;
    const char* probe;
  };
  for (const Option& o : {Option{"mlp.", ExpertStorage::kFused, "experts.gate_up_proj"},
                          Option{"mlp.", ExpertStorage::kPerExpert, "experts.0.gate_proj.weight"},
                          Option{"block_sparse_moe.", ExpertStorage::kPerExpertW123, "experts.0.w1.weight"},
                          Option{"mlp.", ExpertStorage::kPerExpertW123, "experts.0.w1.weight"},
                          Option{"block_sparse_moe.", ExpertStorage::kFused, "experts.gate_up_proj"}}) {
    if (ckpt.contains(layer + o.block + o.probe)) {
      n.moe = o.block;
      n.experts = o.storage;
      break;
    }
  }
  return n;
}

std::vector<WeightSpec> weight_specs(const ModelConfig& c, const CheckpointNames& names) {
  const std::int64_t D = c.hidden_size, d = c.head_dim, Hq = c.num_heads, Hkv = c.num_kv_heads;
  const std::int64_t I = c.intermediate_size, V = c.vocab_size, E = c.num_experts, Ie = c.moe_intermediate_size;
  const std::string& m = names.prefix;
  std::vector<WeightSpec> specs = {{m + "embed_tokens.weight", {V, D}, WeightRole::kEmbedding}};
  auto matrix = [&](const std::string& name, std::vector<std::int64_t> shape) {
    specs.push_back({name, std::move(shape), WeightRole::kMatrix});
  };
  auto norm = [&](const std::string& name, std::int64_t n) { specs.push_back({name, {n}, WeightRole::kNorm}); };
  auto bias = [&](const std::string& name, std::int64_t n) { specs.push_back({name, {n}, WeightRole::kBias}); };
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = m + "layers." + std::to_string(l) + ".";
    norm(p + "input_layernorm.weight", D);
    if (c.layout.fused_qkv) {
      matrix(p + "self_attn.qkv_proj.weight", {(Hq + 2 * Hkv) * d, D});
      if (c.qkv_bias) bias(p + "self_attn.qkv_proj.bias", (Hq + 2 * Hkv) * d);
    } else {
      matrix(p + "self_attn.q_proj.weight", {Hq * d, D});
      matrix(p + "self_attn.k_proj.weight", {Hkv * d, D});
      matrix(p + "self_attn.v_proj.weight", {Hkv * d, D});
      if (c.qkv_bias) {
        bias(p + "self_attn.q_proj.bias", Hq * d);
        bias(p + "self_attn.k_proj.bias", Hkv * d);
        bias(p + "self_attn.v_proj.bias", Hkv * d);
      }
    }
    matrix(p + "self_attn.o_proj.weight", {D, Hq * d});
    if (c.o_bias) bias(p + "self_attn.o_proj.bias", D);
    if (c.qk_norm) {
      norm(p + "self_attn.q_norm.weight", d);
      norm(p + "self_attn.k_norm.weight", d);
    }
    // Llama's post_attention_layernorm is the MLP's pre-norm; Gemma's follows attention and has its own
    // pre- and post-feedforward norms.
    norm(p + "post_attention_layernorm.weight", D);
    if (c.sandwich_norms) norm(p + "pre_feedforward_layernorm.weight", D);
    if (c.is_moe(l)) {
      const std::string b = p + names.moe;
      matrix(b + "gate.weight", {E, D});
      if (names.experts == ExpertStorage::kFused) {
        matrix(b + "experts.gate_up_proj", {E, 2 * Ie, D});
        matrix(b + "experts.down_proj", {E, D, Ie});
      } else {
        const bool w123 = names.experts == ExpertStorage::kPerExpertW123;
        for (std::int64_t e = 0; e < E; ++e) {
          const std::string x = b + "experts." + std::to_string(e) + ".";
          matrix(x + (w123 ? "w1.weight" : "gate_proj.weight"), {Ie, D});
          matrix(x + (w123 ? "w3.weight" : "up_proj.weight"), {Ie, D});
          matrix(x + (w123 ? "w2.weight" : "down_proj.weight"), {D, Ie});
        }
      }
    } else if (c.layout.fused_gate_up) {
      matrix(p + "mlp.gate_up_proj.weight", {2 * I, D});
      matrix(p + "mlp.down_proj.weight", {D, I});
    } else {
      matrix(p + "mlp.gate_proj.weight", {I, D});
      matrix(p + "mlp.up_proj.weight", {I, D});
      matrix(p + "mlp.down_proj.weight", {D, I});
      if (c.mlp_bias) {
        bias(p + "mlp.gate_proj.bias", I);
        bias(p + "mlp.up_proj.bias", I);
        bias(p + "mlp.down_proj.bias", D);
      }
    }
    if (c.sandwich_norms) norm(p + "post_feedforward_layernorm.weight", D);
  }
  norm(m + "norm.weight", D);
  if (!c.tie_word_embeddings) matrix(names.lm_head, {V, D});
  return specs;
}

std::vector<WeightSpec> weight_specs(const ModelConfig& config) {
  return weight_specs(config, CheckpointNames::canonical(config));
}

std::int64_t ModelConfig::parameter_count() const {
  std::int64_t n = 0;
  for (const WeightSpec& spec : weight_specs(*this)) {
    std::int64_t elements = 1;
    for (std::int64_t dim : spec.shape) elements *= dim;
    n += elements;
  }
  return n;
}

void verify_checkpoint(const ModelConfig& config, const Checkpoint& ckpt) {
  for (const WeightSpec& spec : weight_specs(config, CheckpointNames::of(config, ckpt))) ckpt.check(spec.name, spec.shape);
}

}  // namespace kvbench
