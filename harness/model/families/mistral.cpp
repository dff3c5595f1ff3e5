// MistralForCausalLM: Llama-shaped, no biases; v0.1 declares a 4096-token sliding window, v0.2+ none.
#include "harness/model/family.h"

namespace kvbench {

const ModelFamily& mistral_family() {
  static const ModelFamily kFamily{"mistral", "MistralForCausalLM", "mistral", [](const JsonFields& config, ModelConfig& out) {
                                     out.sliding_window = config.get_int("sliding_window", 0);
                                   }};
  return kFamily;
}

}  // namespace kvbench
