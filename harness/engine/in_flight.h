#pragma once
// Samples in flight: the decode pools of a run (one per cache head count: per-KV-head and per-query-head caches
// never share a step) and the memory they may hold, shared by `kvbench run` and `kvbench bench`.
//
// The caller prefills a sample (all its variants), asks can_start() before that with an estimate of what its
// caches will hold, admits its sequences, and collects finished ones from run_until_finished(). Admission is
// refused while the caches in flight, the pools' decode tails and the next sample's estimate would exceed the
// memory budget, unless nothing is in flight (a sample alone always runs, as it does one at a time).

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "harness/engine/decode_pool.h"
#include "policies/registry.h"

namespace kvbench {

/// What the pools are planned for.
struct InFlightPlan {
  std::int64_t samples = 1;        ///< samples in flight at most
  std::int64_t memory_bytes = 0;   ///< device memory the caches in flight and the decode tails may use (0: no limit)
  std::int64_t max_prompt = 0;     ///< the longest prompt (entries per head of a cache that keeps everything)
  std::int64_t max_new = 0;        ///< the most new tokens a sequence decodes, its prior decode entries included
  std::map<std::int64_t, std::int64_t> variants_per_heads;  ///< per cache head count, the variants a sample has
  bool graphs = false;             ///< replay steps as CUDA graphs
};

/// The memory budget of a plan: `requested` bytes, or for 0 ("auto") 80% of what `device` has free now (weights
/// loaded, warm-up done), or no limit (0) where the device does not say.
std::int64_t in_flight_memory_budget(std::int64_t requested, at::Device device);

/// What a sample asks of the in-flight decoder: its sequences per cache head count, and the bytes its prefill
/// (the prompt's activations and full keys and values) and its caches are expected to take.
struct SampleNeeds {
  std::int64_t bytes = 0;
  std::map<std::int64_t, std::int64_t> sequences;
};
/// A variant of a sample: its policy, and whether its sequence joins a pool (a decode-time budget decodes alone).
struct SampleVariant {
  PolicySpec spec;
  bool pooled = true;
};
/// The needs of a sample of `tokens` prompt tokens: each variant's cache as its budget resolves for that prompt
/// (all of it for a policy that keeps everything), stored per KV head or per query head, with what `sliding`
/// makes the model's sliding-window layers hold.
SampleNeeds sample_needs(const ModelConfig& config, std::int64_t element_bytes, std::int64_t tokens,
                         const std::vector<SampleVariant>& variants, SlidingLayers sliding);

class InFlightDecoder {
 public:
  InFlightDecoder(const Transformer& model, const InFlightPlan& plan);

  /// Whether a sample with these needs may start now: slots free for all its sequences and the memory budget
  /// kept (or nothing in flight).
  bool can_start(const SampleNeeds& needs) const;
  /// Whether a pool can hold this sequence (its shape; the caller decodes it alone otherwise).
  bool fits(const KvCache& cache, std::int64_t max_new);
  void admit(PoolSequence s);
  /// Runs the pools until some sequence has ended (or none is left) and returns those that ended.
  std::vector<PoolResult> run_until_finished();
  std::int64_t in_flight() const;
  /// Bytes held now: the caches in flight and the pools' decode tails.
  std::int64_t bytes_held() const { return cache_bytes_ + tail_bytes_; }
  std::int64_t slots(std::int64_t heads) const;

 private:
  DecodePool& pool(std::int64_t heads);

  const Transformer& model_;
  InFlightPlan plan_;
  std::int64_t element_bytes_ = 0;
  std::map<std::int64_t, std::unique_ptr<DecodePool>> pools_;
  std::map<std::uint64_t, std::int64_t> held_;  // tag -> bytes of its cache
  std::int64_t cache_bytes_ = 0, tail_bytes_ = 0;
  std::size_t turn_ = 0;  // which busy pool runs first next time
};

}  // namespace kvbench
