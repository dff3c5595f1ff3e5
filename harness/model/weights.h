#pragma once
// Which tensors a checkpoint of a config holds, under which names. Checkpoints spell the same model several
// ways: a multimodal one nests the language model (`model.language_model.` in transformers 5,
// `language_model.model.` before), Phi-3 fuses q/k/v and gate/up, and experts are stored one module per expert
// (Qwen3-MoE's gate/up/down_proj, Mixtral's w1/w3/w2 under block_sparse_moe) or fused into 3-D tensors
// (transformers 5's mlp.experts.gate_up_proj [E, 2I, D] and down_proj [E, D, I]). CheckpointNames records which
// spelling a checkpoint uses; weight_specs lists every tensor under it with its shape.

#include <cstdint>
#include <string>
#include <vector>

#include "harness/model/model_config.h"

namespace kvbench {

class Checkpoint;

/// How experts are stored.
enum class ExpertStorage { kFused, kPerExpert, kPerExpertW123 };

/// The spelling of one checkpoint's tensor names.
struct CheckpointNames {
  std::string prefix = "model.";           ///< the decoder's (`<prefix>layers.0. ...`)
  std::string lm_head = "lm_head.weight";  ///< the untied LM head
  std::string moe = "mlp.";                ///< the experts' block within a layer (Mixtral's old `block_sparse_moe.`)
  ExpertStorage experts = ExpertStorage::kFused;

  /// The names random checkpoints write for `config` (the first of each TensorLayout list, fused experts).
  static CheckpointNames canonical(const ModelConfig& config);
  /// The spelling `checkpoint` uses for `config`, found by looking for its tensors; an error names what is
  /// missing when no spelling fits.
  static CheckpointNames of(const ModelConfig& config, const Checkpoint& checkpoint);
};

/// What a tensor is (random checkpoints draw each kind its own way).
enum class WeightRole { kEmbedding, kNorm, kMatrix, kBias };

/// A tensor the checkpoint must hold for a config, with its shape.
struct WeightSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  WeightRole role = WeightRole::kMatrix;
};

/// Every tensor a checkpoint of `config` must hold under `names`, embeddings first, then layer by layer, then
/// the final norm and (untied) the LM head; biases only where the family has them.
std::vector<WeightSpec> weight_specs(const ModelConfig& config, const CheckpointNames& names);
/// weight_specs under the canonical names.
std::vector<WeightSpec> weight_specs(const ModelConfig& config);

/// Checks that `checkpoint` holds every tensor of `config` (in the spelling it uses) with its shape and a float
/// dtype, without reading any data; throws kvbench::Error naming the file and tensor of the first problem.
void verify_checkpoint(const ModelConfig& config, const Checkpoint& checkpoint);

}  // namespace kvbench
