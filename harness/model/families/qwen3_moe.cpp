// Qwen3MoeForCausalLM: Qwen3's attention; experts (num_experts, num_experts_per_tok, moe_intermediate_size) on
// every decoder_sparse_step-th layer except mlp_only_layers, routing weights renormalised when norm_topk_prob.
#include <algorithm>

#include "harness/common/error.h"
#include "harness/model/families/shared.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {

const ModelFamily& qwen3_moe_family() {
  static const ModelFamily kFamily{
      "qwen3_moe", "Qwen3MoeForCausalLM", "qwen3_moe",
      [](const JsonFields& config, ModelConfig& out) {
        parse_qwen3_attention(config, out);
        // transformers 5 writes num_local_experts (num_experts, the hub's key, maps onto it).
        out.num_experts = config.get_int(config.has("num_experts") ? "num_experts" : "num_local_experts");
        out.experts_per_token = config.get_int("num_experts_per_tok");
        out.moe_intermediate_size = config.get_int("moe_intermediate_size");
        out.norm_topk_prob = config.get_bool("norm_topk_prob", false);
        KV_CHECK(out.num_experts >= 1 && out.num_experts <= 4096 && out.experts_per_token >= 1 &&
                     out.experts_per_token <= out.num_experts && out.moe_intermediate_size >= 1 &&
                     out.moe_intermediate_size <= (1 << 20),
                 config.source(), ": num_experts, num_experts_per_tok and moe_intermediate_size must be positive, "
                 "with num_experts_per_tok <= num_experts");
        const std::int64_t step = config.get_int("decoder_sparse_step", 1);
        KV_CHECK(step >= 1, config.source(), ": decoder_sparse_step must be >= 1");
        std::vector<std::int64_t> dense;
        const nlohmann::json& only = config.raw("mlp_only_layers");
        KV_CHECK(only.is_null() || only.is_array(), config.source(), ": mlp_only_layers must be a list of layers");
        if (only.is_array())
          for (const auto& l : only) {
            KV_CHECK(l.is_number_integer(), config.source(), ": mlp_only_layers must be a list of layers");
            dense.push_back(l.get<std::int64_t>());
          }
        out.moe_layers.assign(static_cast<std::size_t>(out.num_layers), false);
        for (std::int64_t l = 0; l < out.num_layers; ++l)
          out.moe_layers[static_cast<std::size_t>(l)] =
              std::find(dense.begin(), dense.end(), l) == dense.end() && (l + 1) % step == 0;
      },
      nullptr, nullptr,
      [](const RandomModelSpec& s, nlohmann::json& c) {
        write_qwen3_tiny(s, c);
        c["num_experts"] = s.num_experts > 0 ? s.num_experts : 4;
        c["num_experts_per_tok"] = s.experts_per_token;
        c["moe_intermediate_size"] = s.intermediate_size / 2;
        c["norm_topk_prob"] = true;
        c["decoder_sparse_step"] = 1;
        c["mlp_only_layers"] = nlohmann::json::array();
      }};
  return kFamily;
}

}  // namespace kvbench
