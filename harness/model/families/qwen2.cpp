// Qwen2ForCausalLM (Qwen2, Qwen2.5): biases on q/k/v (not o_proj), tied embeddings on the small sizes; a sliding
// window on the layers from max_window_layers on when use_sliding_window is set (transformers' rule).
#include "harness/model/families/shared.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

void set_qwen_sliding_layers(const JsonFields& config, ModelConfig& out) {
  const bool on = config.get_bool("use_sliding_window", false);
  const std::int64_t first = config.get_int("max_window_layers", 28);
  set_sliding_layers(config, out, on ? config.get_int("sliding_window", 0) : 0,
                     [first](std::int64_t l) { return l >= first; });
}

void write_qwen_tiny_window(const RandomModelSpec& s, nlohmann::json& c) {
  c["use_sliding_window"] = s.sliding_window > 0;
  c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json();
  c["max_window_layers"] = 0;
}

const ModelFamily& qwen2_family() {
  static const ModelFamily kFamily{"qwen2", "Qwen2ForCausalLM", "qwen2",
                                   [](const JsonFields& config, ModelConfig& out) {
                                     out.qkv_bias = true;
                                     set_qwen_sliding_layers(config, out);
                                   },
                                   nullptr, nullptr, write_qwen_tiny_window};
  return kFamily;
}

}  // namespace kvbench
