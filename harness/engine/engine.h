#pragma once
// Prefill and greedy decoding over a per-head KV cache that eviction policies compress.
//
// Prefill runs layer by layer over the whole prompt (in chunks of rows, so activation memory stays bounded):
// projections and RoPE, causal attention with the full cache, then the rest of the layer. Right after a
// layer's attention every policy of the call sees that layer (keys, values, the queries it asked for, the
// token ids) and its cache keeps only the chosen entries; the full keys of that layer are then dropped. The
// prefill's hidden states never depend on the policies, so one prefill can feed several of them (one
// KvCache each). Policies that ask for it (PolicyInputs::reconstruction: KVzip) choose in a second pass over
// prompt ++ repeat instruction ++ prompt instead (prefill_pass.h). Decoding appends one entry per head per step
// and attends over what was kept.

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <exception>
#include <vector>

#include "harness/engine/decode_eviction.h"
#include "harness/engine/kv_cache.h"
#include "harness/model/transformer.h"
#include "policies/policy.h"

namespace kvbench {

/// KVzip's repeat instruction, as kvpress's KVzipPress words it for its first chunk (the KVzip paper's
/// reconstruction prompt); kvpress follows it with the chat template's assistant prefix, or "\n" without one.
/// Callers with a tokenizer encode both, without special tokens, into PrefillOptions::reconstruction_prompt.
inline constexpr const char* kReconstructionInstruction = "\n\nRepeat the previous context exactly.";
inline constexpr const char* kReconstructionSuffix = "\n";

/// How Engine::prefill runs.
struct PrefillOptions {
  std::int64_t chunk_size = 0;  ///< prompt rows processed at a time (projections, MLP, plain attention);
                                ///< 0: 512 on the CPU, 8192 on CUDA (bigger matrix products, fewer launches)
  bool all_logits = false;        ///< also return the logits of every prompt position
  bool time_policies = true;      ///< measure each policy's compression time (device events on CUDA: no syncs)
  /// A policy that throws (a budget too small for its model, an out-of-memory in its scoring) fails alone:
  /// its error goes to PrefillResult::policy_errors, its cache is left empty, the others go on. Without it
  /// the first such error ends the prefill.
  bool isolate_policies = false;
  /// The tokens between the prompt and its repetition in the reconstruction pass (policies asking
  /// PolicyInputs::reconstruction): KVzip's repeat instruction. Empty: the prompt directly follows itself.
  std::vector<std::int64_t> reconstruction_prompt;
};

struct PrefillResult {
  at::Tensor last_logits;       ///< float32 [V]: logits of the last prompt position
  /// float32 [caches, V] once extend() prefilled more tokens on top of each cache: each cache's own logits of
  /// the next token (decoding starts from these instead of last_logits).
  at::Tensor cache_logits;
  at::Tensor logits;            ///< float32 [T, V] when PrefillOptions::all_logits
  std::vector<KvCache> caches;  ///< one per policy, in the order given
  double seconds = 0.0;         ///< wall time of the prefill (device synchronized), compression included
  std::vector<double> policy_seconds;  ///< per policy: time spent choosing and storing the kept entries; for a
                                       ///< reconstruction policy, the whole reconstruction pass
  /// Per policy, with PrefillOptions::isolate_policies: why it failed, or null when it did not.
  std::vector<std::exception_ptr> policy_errors;
  bool policy_failed(std::size_t i) const { return i < policy_errors.size() && policy_errors[i] != nullptr; }
};

struct GenerateOptions {
  std::int64_t max_new_tokens = 64;
  std::int64_t min_new_tokens = 0;    ///< stop ids are suppressed until this many tokens exist
  std::vector<std::int64_t> stop_ids; ///< generation ends after emitting any of these
  std::int64_t sync_interval = 0;     ///< check for stops every k steps (0: 1 on CPU, 16 on CUDA)
  bool keep_step_logits = false;      ///< record the logits each token was chosen from (tests, parity)
  /// How steps run: "graph" (ragged decode attention, each step a replayed CUDA graph; CUDA only),
  /// "ragged" (the same launches without graphs; also on the CPU, with reference attention), "reference"
  /// (the plain libtorch path), or "auto" (graph on CUDA where the kernels support the model, else reference).
  std::string decode_path = "auto";
  bool time_steps = false;            ///< record each step's time (GenerationResult::step_seconds)
  /// Decode-time eviction (decode_eviction.h): runs on the reference path, one sequence at a time.
  DecodeBudget decode_budget;
};

/// The decode paths GenerateOptions::decode_path accepts.
const std::vector<std::string>& decode_path_names();

struct GenerationResult {
  std::vector<std::int64_t> output_ids;  ///< generated tokens only, the stop token included if one came
  std::string stop_reason;               ///< "stop_token" or "max_new_tokens"
  std::vector<at::Tensor> step_logits;   ///< float32 [V] per generated token, when asked for
  double decode_seconds = 0.0;           ///< wall time of the decode loop (device synchronized)
  std::int64_t decode_steps = 0;         ///< forward passes run by the decode loop
  std::int64_t batch_size = 1;           ///< sequences that shared those forward passes (decode_batch)
  std::vector<double> step_seconds;      ///< each step's time, when GenerateOptions::time_steps
  std::string decode_path;               ///< the path that ran ("graph", "ragged" or "reference")
  /// With a decode budget: the most entries any head held after a step (before its eviction), the most
  /// bytes of keys and values the cache held, and the eviction passes that removed something.
  std::int64_t max_entries_per_head = 0;
  std::int64_t peak_kv_bytes = 0;
  std::int64_t eviction_passes = 0;
};

class RaggedDecoders;

class Engine {
 public:
  explicit Engine(const Transformer& model);

  /// Runs the prompt through the model once and builds one compressed cache per policy; when some policy asks
  /// for reconstruction, a second pass over prompt ++ options.reconstruction_prompt ++ prompt builds theirs
  /// (about 2T + |R| more tokens of prefill). last_logits are always the plain pass's.
  PrefillResult prefill(const std::vector<std::int64_t>& prompt_ids, const std::vector<EvictionPolicy*>& policies,
                        const PrefillOptions& options) const;

  /// Greedy decoding from a prefilled cache; the first token comes from `last_logits` of the prefill.
  GenerationResult decode(KvCache& cache, const at::Tensor& last_logits, const GenerateOptions& options) const;

  /// Greedy decoding of several caches of the same prompt in one batch (see batch_cache.h): each result
  /// is what decode() would give, up to floating-point summation order. The caches are read, not extended;
  /// decode_seconds and decode_steps are those of the whole batch.
  std::vector<GenerationResult> decode_batch(const std::vector<const KvCache*>& caches, const at::Tensor& last_logits,
                                             const GenerateOptions& options) const;

  /// prefill with one policy, then decode.
  GenerationResult generate(const std::vector<std::int64_t>& prompt_ids, EvictionPolicy& policy,
                            const PrefillOptions& prefill_options, const GenerateOptions& options) const;

  /// float32 logits [V] of the next token after appending `token` to `cache` (one decode step). An evictor
  /// sees each layer's query.
  at::Tensor decode_step(KvCache& cache, const at::Tensor& token, DecodeEvictor* evictor = nullptr) const;

  /// Query-agnostic protocol: runs `ids` (the question part) through the model on top of every cache that
  /// did not fail, one position at a time after the compressed prompt (positions continue where the prompt
  /// ended), and sets prefilled.cache_logits.
  void extend(PrefillResult& prefilled, const std::vector<std::int64_t>& ids) const;

  /// The decode path `options` resolves to for this model: "graph", "ragged" or "reference".
  std::string decode_path(const GenerateOptions& options) const { return resolve_decode_path(options.decode_path); }

 private:
  /// decode_path resolved for this model ("graph", "ragged" or "reference"); bad names are errors.
  std::string resolve_decode_path(const std::string& requested) const;
  GenerationResult decode_with_eviction(KvCache& cache, const at::Tensor& last_logits,
                                        const GenerateOptions& options) const;
  std::vector<GenerationResult> ragged_decode(const std::vector<const KvCache*>& caches, const at::Tensor& last_logits,
                                              const GenerateOptions& options, bool graphs, KvCache* extend) const;

  const Transformer& model_;
  std::shared_ptr<RaggedDecoders> decoders_;  // kept between prompts: their tails and captured graphs
};

/// Size limits checked before anything proportional to them is allocated: a sequence longer than 8x the
/// model's max_position_embeddings is refused as meaningless, and one whose memory (the prompt's activations
/// and one full K/V cache, or the decode tails of `batch` sequences) exceeds what the device has is refused
/// with both numbers. `what` names the config key or flag the number came from.
void check_prompt_size(const ModelConfig& config, at::ScalarType dtype, at::Device device, std::int64_t tokens,
                       const std::string& what);
/// Bytes a prefill of `tokens` tokens holds beside the weights and the caches, for elements of `element_bytes`:
/// the hidden state and its temporaries, q/k/v and the attention output (what check_prompt_size counts).
std::int64_t prefill_activation_bytes(const ModelConfig& config, std::int64_t element_bytes, std::int64_t tokens);
void check_generation_size(const ModelConfig& config, at::ScalarType dtype, at::Device device, std::int64_t first_position,
                           std::int64_t new_tokens, std::int64_t batch, const std::string& what);

/// Which of a prefill's caches (`usable`, indices into prefilled.caches) decode together when `batch` (else one
/// cache per group). The reference path pads a batch to its largest cache, so it groups as plan_decode_batches
/// says; the ragged paths read each cache where it is, so every cache joins one batch (of at most
/// kMaxRaggedBatch).
std::vector<std::vector<std::size_t>> decode_groups(const Engine& engine, const PrefillResult& prefilled,
                                                    const std::vector<std::size_t>& usable, bool batch,
                                                    const GenerateOptions& options);
constexpr std::size_t kMaxRaggedBatch = 32;

/// Decodes one group of a prefill's caches: decode_batch for several, decode for a lone one.
std::vector<GenerationResult> decode_group(const Engine& engine, PrefillResult& prefilled,
                                           const std::vector<std::size_t>& group, const GenerateOptions& options);

}  // namespace kvbench
