#pragma once
// A model family = one `architectures` name of HF config.json plus the parser that maps its config onto
// ModelConfig. Families are registered in family_registry.cpp, one line each; the forward pass is shared.

#include <string>
#include <vector>

#include "harness/common/json_util.h"
#include "harness/model/model_config.h"

namespace kvbench {

struct ModelFamily {
  const char* name;          ///< kvbench's short name (make-tiny --family, random checkpoints), e.g. "mistral"
  const char* architecture;  ///< as in config.json "architectures", e.g. "MistralForCausalLM"
  const char* model_type;    ///< config.json "model_type" of the checkpoints kvbench writes
  /// Fills the family-specific fields of `out`; the shared decoder fields are already parsed.
  void (*parse)(const JsonFields& config, ModelConfig& out);
};

/// The family for `architecture`, or nullptr.
const ModelFamily* find_model_family(const std::string& architecture);
/// The family kvbench calls `name` ("llama"), or nullptr.
const ModelFamily* find_model_family_by_name(const std::string& name);
/// Names of all registered architectures (for error messages and --help).
std::vector<std::string> supported_architectures();
/// kvbench's short names of all registered families.
std::vector<std::string> family_names();

/// Parses the fields every Llama-like decoder shares: sizes, heads, head_dim, eps, rope (theta and scaling,
/// from `rope_theta`/`rope_scaling` or transformers 5's `rope_parameters`), tied embeddings, token ids.
void parse_decoder_fields(const JsonFields& config, ModelConfig& out);

}  // namespace kvbench
