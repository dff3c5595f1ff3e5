// MixtralForCausalLM: Mistral's attention (a sliding window on every layer when declared) with experts on every
// layer (num_local_experts, num_experts_per_tok, intermediate_size per expert), routing weights always
// renormalised; experts stored as block_sparse_moe.experts.E.w1/w3/w2 or fused by transformers 5.
#include "harness/common/error.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

const ModelFamily& mixtral_family() {
  static const ModelFamily kFamily{
      "mixtral", "MixtralForCausalLM", "mixtral",
      [](const JsonFields& config, ModelConfig& out) {
        set_sliding_layers(config, out, config.get_int("sliding_window", 0), [](std::int64_t) { return true; });
        out.num_experts = config.get_int("num_local_experts");
        out.experts_per_token = config.get_int("num_experts_per_tok");
        out.moe_intermediate_size = out.intermediate_size;
        out.norm_topk_prob = true;
        KV_CHECK(out.num_experts >= 1 && out.num_experts <= 4096 && out.experts_per_token >= 1 &&
                     out.experts_per_token <= out.num_experts,
                 config.source(), ": num_local_experts and num_experts_per_tok must be positive, with "
                 "num_experts_per_tok <= num_local_experts");
        out.moe_layers.assign(static_cast<std::size_t>(out.num_layers), true);
      },
      nullptr, nullptr,
      [](const RandomModelSpec& s, nlohmann::json& c) {
        c["sliding_window"] = s.sliding_window > 0 ? nlohmann::json(s.sliding_window) : nlohmann::json();
        c["num_local_experts"] = s.num_experts > 0 ? s.num_experts : 4;
        c["num_experts_per_tok"] = s.experts_per_token;
      }};
  return kFamily;
}

}  // namespace kvbench
