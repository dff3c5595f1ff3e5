// Phi3ForCausalLM (Phi-3, Phi-3.5, Phi-4-mini): fused self_attn.qkv_proj and mlp.gate_up_proj, LongRoPE
// (rope_config.cpp), partial rotary where declared, a sliding window on every layer when declared.
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

const ModelFamily& phi3_family() {
  static const ModelFamily kFamily{
      "phi3", "Phi3ForCausalLM", "phi3",
      [](const JsonFields& config, ModelConfig& out) {
        out.layout.fused_qkv = true;
        out.layout.fused_gate_up = true;
        set_sliding_layers(config, out, config.get_int("sliding_window", 0), [](std::int64_t) { return true; });
      },
      nullptr, nullptr,
      [](const RandomModelSpec& s, nlohmann::json& c) {
        c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json();
        // Phi-3 keeps the pre-extension length at the top level (where it wins over rope_scaling's).
        c["original_max_position_embeddings"] =
            s.rope_scaling.is_object() ? s.rope_scaling.value("original_max_position_embeddings", s.max_position_embeddings)
                                       : s.max_position_embeddings;
      }};
  return kFamily;
}

}  // namespace kvbench
