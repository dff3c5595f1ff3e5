// Qwen2ForCausalLM (Qwen2, Qwen2.5): biases on q/k/v (not o_proj), tied embeddings on the small sizes.
#include "harness/common/error.h"
#include "harness/model/family.h"

namespace kvbench {

const ModelFamily& qwen2_family() {
  static const ModelFamily kFamily{"qwen2", "Qwen2ForCausalLM", "qwen2", [](const JsonFields& config, ModelConfig& out) {
                                     out.qkv_bias = true;
                                     KV_CHECK(!config.get_bool("use_sliding_window", false), config.source(),
                                              ": Qwen2 use_sliding_window=true is not supported");
                                   }};
  return kFamily;
}

}  // namespace kvbench
