// LlamaForCausalLM: Llama-2, Llama-3, Llama-3.1/3.2 (llama3 rope scaling), optional attention/MLP biases.
#include "harness/model/family.h"

namespace kvbench {

const ModelFamily& llama_family() {
  static const ModelFamily kFamily{"llama", "LlamaForCausalLM", "llama", [](const JsonFields& config, ModelConfig& out) {
                                     const bool attention_bias = config.get_bool("attention_bias", false);
                                     out.qkv_bias = attention_bias;
                                     out.o_bias = attention_bias;
                                     out.mlp_bias = config.get_bool("mlp_bias", false);
                                   }};
  return kFamily;
}

}  // namespace kvbench
