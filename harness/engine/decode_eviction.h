#pragma once
// Eviction during decoding. Prefill-time policies bound the prompt's cache, but a 512-token summary grows it
// past the budget again; the original H2O and TOVA evict step by step (so do kvpress's DecodingPress and
// SCOPE's decode budget). Every `every` steps, each KV head of each layer holding more than `budget` entries
// (kept prompt entries plus generated ones) keeps its `window` most recent entries and the best-scored rest.
// Scores: "accumulated" (H2O: the attention each entry has received from every decode query so far, summed
// over the KV head's query heads) or "window" (SnapKV-style: the attention of the last `window` decode
// queries, summed). Softmax runs over the head's entries at the time of scoring.

#include <ATen/ATen.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "harness/engine/kv_cache.h"

namespace kvbench {

/// The decode-time budget of one variant (`decode: {"budget": B, "every": k}` in a run config).
struct DecodeBudget {
  std::int64_t budget = 0;   ///< entries per KV head per layer; 0: no decode-time eviction
  std::int64_t every = 1;    ///< steps between eviction passes: a head never holds more than budget + every
  std::int64_t window = 32;  ///< recent entries always kept; also the queries the window scores use
  bool accumulate = false;   ///< H2O's accumulated scores instead of the window's

  bool enabled() const { return budget > 0; }
  /// "accumulated" or "window".
  std::string score_name() const { return accumulate ? "accumulated" : "window"; }
};

/// Applies a DecodeBudget to one sequence's cache as it decodes (the reference decode path calls it).
class DecodeEvictor {
 public:
  DecodeEvictor(const DecodeBudget& budget, std::int64_t num_layers, double scale);

  /// Layer `layer`'s query [Hq, d] of this step, seen after the step's key was appended to `cache`.
  void observe(std::int64_t layer, const LayerCache& cache, const at::Tensor& q);
  /// After each step: evicts where the bound requires it.
  void after_step(KvCache& cache);

  /// The most entries any head held after any step, before that step's eviction.
  std::int64_t max_entries() const { return max_entries_; }
  /// The most bytes of keys and values the cache held after any step.
  std::int64_t peak_bytes() const { return peak_bytes_; }
  /// Eviction passes that removed something.
  std::int64_t passes() const { return passes_; }

 private:
  /// Scores [n - recent] of head h's older entries (higher = keep).
  at::Tensor scores(std::int64_t layer, std::int64_t head, const LayerCache& cache, std::int64_t older) const;
  void evict(std::int64_t layer, LayerCache& cache);

  DecodeBudget budget_;
  double scale_;
  std::vector<std::deque<at::Tensor>> recent_queries_;  // per layer, the last `window` queries [Hq, d]
  std::vector<std::vector<at::Tensor>> accumulated_;    // per layer and head, float32 [entries]
  std::int64_t steps_ = 0, max_entries_ = 0, peak_bytes_ = 0, passes_ = 0;
};

}  // namespace kvbench
