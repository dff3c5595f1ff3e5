// Gemma 3's language model: Gemma 2 without soft-capping (unless declared), with q/k norms, 5 local : 1 global
// layers (layer_types, or sliding_window_pattern), and a RoPE of its own for the local layers (base
// rope_local_base_freq, or transformers 5's rope_parameters.sliding_attention). Two architectures:
// Gemma3ForCausalLM (text-only checkpoints) and Gemma3ForConditionalGeneration, whose config holds the language
// model in text_config (written as a diff against Gemma3TextConfig's defaults) and whose checkpoint nests it
// under model.language_model. (transformers 5) or language_model.model. (before); the vision tower is not read.
#include <string>

#include "harness/common/error.h"
#include "harness/common/json_util.h"
#include "harness/model/families/shared.h"
#include "harness/model/family.h"
#include "harness/model/random_checkpoint.h"

namespace kvbench {
namespace {
// transformers' Gemma3TextConfig defaults: Gemma2Config's but for these.
const char* gemma3_defaults() {
  static const std::string defaults = [] {
    nlohmann::json d = parse_json(kGemma2Defaults, "gemma2 defaults");
    d.update(parse_json(R"({"vocab_size": 262208, "max_position_embeddings": 131072,
        "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "sliding_window_pattern": 6,
        "final_logit_softcapping": null, "attn_logit_softcapping": null})",
                        "gemma3 defaults"));
    return d.dump();
  }();
  return defaults.c_str();
}

void parse_gemma3(const JsonFields& config, ModelConfig& out) {
  KV_CHECK(!config.get_bool("use_bidirectional_attention", false), config.source(),
           ": use_bidirectional_attention (an embedding model) is not supported");
  const std::int64_t pattern = config.get_int("sliding_window_pattern", 6);
  KV_CHECK(pattern >= 1, config.source(), ": sliding_window_pattern must be >= 1");
  parse_gemma(config, out, pattern);
  out.qk_norm = true;
  // transformers 4 spells the local layers' RoPE as rope_local_base_freq (default schedule); transformers 5
  // nests it in rope_parameters, which parse_rope has read.
  if (!out.sliding_rope) out.sliding_rope = RopeParameters{config_positive(config, "rope_local_base_freq", 10000.0), {}};
}
}  // namespace

const ModelFamily& gemma3_family() {
  static const ModelFamily kFamily{"gemma3", "Gemma3ForCausalLM", "gemma3_text", parse_gemma3, gemma3_defaults(),
                                   nullptr, write_gemma_tiny};
  return kFamily;
}

const ModelFamily& gemma3_mm_family() {
  static const ModelFamily kFamily{"gemma3_mm", "Gemma3ForConditionalGeneration", "gemma3",
                                   [](const JsonFields& config, ModelConfig& out) {
                                     parse_gemma3(config, out);
                                     out.layout.prefixes = {"model.language_model.", "language_model.model."};
                                     out.layout.lm_head = {"lm_head.weight", "language_model.lm_head.weight"};
                                   },
                                   gemma3_defaults(), "text_config", write_gemma_tiny};
  return kFamily;
}

}  // namespace kvbench
