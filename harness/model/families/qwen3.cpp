// Qwen3ForCausalLM: Qwen2 without the q/k/v biases (attention_bias), with an RMSNorm on each q and k head before
// RoPE (q_norm, k_norm) and an explicit head_dim (128 on every size, not hidden / heads).
#include "harness/model/families/shared.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

void parse_qwen3_attention(const JsonFields& config, ModelConfig& out) {
  out.qkv_bias = out.o_bias = config.get_bool("attention_bias", false);
  out.qk_norm = true;
  set_qwen_sliding_layers(config, out);
}

void write_qwen3_tiny(const RandomModelSpec& s, nlohmann::json& c) {
  write_qwen_tiny_window(s, c);
  c["head_dim"] = s.head_dim > 0 ? s.head_dim : s.hidden_size / s.num_heads;
}

const ModelFamily& qwen3_family() {
  static const ModelFamily kFamily{"qwen3", "Qwen3ForCausalLM", "qwen3", parse_qwen3_attention, nullptr, nullptr,
                                   write_qwen3_tiny};
  return kFamily;
}

}  // namespace kvbench
