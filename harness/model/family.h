#pragma once
// A model family = one `architectures` name of HF config.json plus the parser that maps its config onto
// ModelConfig. Families are registered in family_registry.cpp, one line each; the forward pass is shared.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/common/json_util.h"
#include "harness/model/model_config.h"

namespace kvbench {

struct RandomModelSpec;

struct ModelFamily {
  const char* name;          ///< kvbench's short name (make-tiny --family, random checkpoints), e.g. "mistral"
  const char* architecture;  ///< as in config.json "architectures", e.g. "MistralForCausalLM"
  const char* model_type;    ///< config.json "model_type" of the checkpoints kvbench writes
  /// Fills the family-specific fields of `out`; the shared decoder fields are already parsed.
  void (*parse)(const JsonFields& config, ModelConfig& out);
  /// transformers' defaults of keys a config of this family may leave out, as a JSON object (nullptr: none).
  /// HF writes a key only where it differs from a default, and a multimodal checkpoint's text_config only
  /// where it differs from the text config class's defaults, so a parser must know them.
  const char* defaults = nullptr;
  /// The key of config.json that holds the language model's config (multimodal checkpoints), or nullptr.
  const char* text_config = nullptr;
  /// Adds this family's own keys to the config.json of a random checkpoint (make-tiny), or nullptr.
  void (*tiny_config)(const RandomModelSpec& spec, nlohmann::json& config) = nullptr;
};

/// The family for `architecture`, or nullptr.
const ModelFamily* find_model_family(const std::string& architecture);
/// The family kvbench calls `name` ("llama"), or nullptr.
const ModelFamily* find_model_family_by_name(const std::string& name);
/// Names of all registered architectures (for error messages and --help).
std::vector<std::string> supported_architectures();
/// kvbench's short names of all registered families.
std::vector<std::string> family_names();

/// Parses the fields every decoder shares: sizes, heads, head_dim, eps, the activation (`hidden_act` or
/// `hidden_activation`), RoPE (rope_config.cpp), tied embeddings, token ids.
void parse_decoder_fields(const JsonFields& config, ModelConfig& out);

/// RoPE: `rope_theta` + `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5, also nested per
/// layer type as Gemma 3 writes it), partial_rotary_factor, and every schedule's derived numbers (yarn's and
/// longrope's attention factor, longrope's default factor) resolved as transformers resolves them.
void parse_rope(const JsonFields& config, ModelConfig& out);

/// Which layers attend over a sliding window of `window` keys (0: none): the config's `layer_types` when it
/// has them (transformers 5 writes them), else `sliding(layer)`. Sets sliding_window and sliding_layers.
void set_sliding_layers(const JsonFields& config, ModelConfig& out, std::int64_t window,
                        const std::function<bool(std::int64_t)>& sliding);

/// A positive, finite number of the config (`key`, else `fallback`), named in the error otherwise.
double config_positive(const JsonFields& config, const std::string& key, double fallback);

}  // namespace kvbench
