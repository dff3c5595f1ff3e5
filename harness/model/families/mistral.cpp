// MistralForCausalLM: Llama-shaped, no biases; v0.1 declares a 4096-token sliding window on every layer, v0.2+
// none.
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

const ModelFamily& mistral_family() {
  static const ModelFamily kFamily{
      "mistral", "MistralForCausalLM", "mistral",
      [](const JsonFields& config, ModelConfig& out) {
        set_sliding_layers(config, out, config.get_int("sliding_window", 0), [](std::int64_t) { return true; });
      },
      nullptr, nullptr,
      [](const RandomModelSpec& s, nlohmann::json& c) {
        c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json();
      }};
  return kFamily;
}

}  // namespace kvbench
