// Gemma2ForCausalLM: interleaved sliding-window (even) and global (odd) layers, attention-logit and
// final-logit soft-capping, scores scaled by query_pre_attn_scalar^-0.5, norms before and after attention and
// the MLP, RMSNorm by (1 + w), embeddings times sqrt(hidden), GeGLU (tanh GELU), tied embeddings.
#include <cmath>

#include "harness/model/families/shared.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

// transformers' Gemma2Config defaults (HF leaves out a key equal to its class default).
const char* const kGemma2Defaults = R"({
  "vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
  "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
  "max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2,
  "tie_word_embeddings": true, "rope_theta": 10000.0, "attention_bias": false, "query_pre_attn_scalar": 256,
  "sliding_window": 4096, "final_logit_softcapping": 30.0, "attn_logit_softcapping": 50.0})";

namespace {
double softcap(const JsonFields& config, const char* key) { return config.has(key) ? config_positive(config, key, 0) : 0.0; }
}  // namespace

void parse_gemma(const JsonFields& config, ModelConfig& out, std::int64_t pattern) {
  out.qkv_bias = out.o_bias = config.get_bool("attention_bias", false);
  out.norm_unit_offset = true;
  out.sandwich_norms = true;
  out.scale_embeddings = true;
  out.attention_scale = 1.0 / std::sqrt(config_positive(config, "query_pre_attn_scalar", 256));
  out.attn_logit_softcap = softcap(config, "attn_logit_softcapping");
  out.final_logit_softcap = softcap(config, "final_logit_softcapping");
  set_sliding_layers(config, out, config.get_int("sliding_window", 0),
                     [pattern](std::int64_t l) { return (l + 1) % pattern != 0; });
}

void write_gemma_tiny(const RandomModelSpec& s, nlohmann::json& c) {
  const std::int64_t d = s.head_dim > 0 ? s.head_dim : s.hidden_size / s.num_heads;
  c.erase("hidden_act");
  c["hidden_activation"] = "gelu_pytorch_tanh";
  c["head_dim"] = d;
  c["query_pre_attn_scalar"] = d;
  c["sliding_window"] = s.sliding_window > 0 ? s.sliding_window : 4096;
}

const ModelFamily& gemma2_family() {
  static const ModelFamily kFamily{"gemma2", "Gemma2ForCausalLM", "gemma2",
                                   [](const JsonFields& config, ModelConfig& out) { parse_gemma(config, out, 2); },
                                   kGemma2Defaults, nullptr, write_gemma_tiny};
  return kFamily;
}

}  // namespace kvbench
