#pragma once
// Decoding several caches of one prompt together (the variants of a sweep after one shared prefill).
//
// Decode is bound by reading the weights, so one forward pass over B sequences costs about as much as one
// over a single sequence. The variants' caches differ (each policy kept other entries, heads may be
// ragged), so each layer's entries are padded into one dense [B, Hkv, S, d] tensor with a mask that hides
// the padding; S is fixed for the whole decode (prompt slots + room for every new token), which keeps
// shapes static and the step free of reallocations.

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "harness/engine/kv_cache.h"

namespace kvbench {

/// One layer of a batch of caches, padded and masked.
class BatchLayerCache {
 public:
  /// Copies each cache's prompt entries and decode entries so far; room for `capacity` more tokens.
  BatchLayerCache(const std::vector<const LayerCache*>& layers, std::int64_t capacity);
  /// Appends one entry per sequence and head: k and v [B, Hkv, d] (repeated to the query heads of
  /// per-query-head caches).
  void append(const at::Tensor& k, const at::Tensor& v);
  /// Attention of queries q [B, Hq, d] over every sequence's own entries: [B, Hq d].
  at::Tensor attend(const at::Tensor& q, double scale) const;

 private:
  at::Tensor keys_, values_;  // [B, Hkv, S, d]; padding is zero so that masked products stay finite
  at::Tensor bias_;           // float32 [B, Hkv, 1, S]: 0 where an entry is present, -inf elsewhere
  std::int64_t next_ = 0;     // slot of the next appended entry (the same for every sequence and head)
};

/// Splits caches into groups worth decoding together: padding a group to its largest cache must not more
/// than double the memory its caches hold (a full-cache variant is not padded beside 128-token ones), and a group
/// holds caches of one head count (per KV head, or per query head). Groups list cache indices in ascending order.
std::vector<std::vector<std::size_t>> plan_decode_batches(const std::vector<const KvCache*>& caches);

/// The heads `cache` stores per layer: KV heads, or query heads for a per-query-head policy's cache.
std::int64_t cache_heads(const KvCache& cache);

}  // namespace kvbench
