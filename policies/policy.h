#pragma once
// The eviction-policy interface. After each layer's prefill attention the engine shows the policy that
// layer (keys, values, the post-RoPE queries it asked for, the prompt token ids) and stores only the
// positions the policy keeps, per KV head. Policies never see files, datasets or the decode loop.

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policies/budget.h"

namespace kvbench {

/// Kept prompt positions of every cache head of one layer, ascending within each head. Stored flat and
/// head-major with host offsets, so heads may keep different numbers of entries (ragged caches). A cache head is
/// a KV head, or with per-query-head granularity a query head: Hq = g Hkv heads, head i holding entries of KV head
/// i / g (K and V repeated to the query heads, as KVCache-Factory and Ada-KV store them).
struct KeptPositions {
  at::Tensor indices;                 ///< int64 [N]; head h owns indices[offsets[h] : offsets[h+1]]
  std::vector<std::int64_t> offsets;  ///< [H + 1], offsets[0] = 0, offsets[H] = N
  bool everything = false;            ///< every head keeps every position (the cache can alias the prefill K/V)

  /// Every head keeps all `prompt_len` positions.
  static KeptPositions all(std::int64_t num_heads, std::int64_t prompt_len, at::Device device);
  /// The same number of positions per head: `per_head` is int64 [Hkv, B], each row ascending.
  static KeptPositions uniform(const at::Tensor& per_head);
  /// One ascending int64 tensor per head, possibly of different lengths.
  static KeptPositions ragged(const std::vector<at::Tensor>& per_head);

  std::int64_t num_heads() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  std::int64_t count(std::int64_t head) const { return offsets[head + 1] - offsets[head]; }
  std::int64_t total() const { return offsets.back(); }
  bool is_uniform() const;
  /// Positions kept by `head` (a view into `indices`).
  at::Tensor head(std::int64_t head) const { return indices.narrow(0, offsets[head], count(head)); }
};

/// What a policy wants to see of each layer's prefill, beyond keys and values.
struct PolicyInputs {
  std::int64_t query_window = 0;  ///< this many trailing prompt queries (post-RoPE); 0 for none
  bool all_queries = false;       ///< every prompt query (e.g. H2O's column sums)
  /// KVzip: select() runs only in the engine's reconstruction pass (LayerView::reconstruction_keys), which
  /// prefills prompt ++ repeat instruction ++ prompt; query_window and all_queries do not apply there.
  bool reconstruction = false;
};

/// Tensors the policies of one prefill share for one layer, by key: policies with equal scoring settings
/// (a sweep over budgets, snapkv beside kvec) compute their scores once. Read-only once stored.
struct LayerMemo {
  std::map<std::string, at::Tensor> tensors;
};

/// One layer of a prefill, as a policy sees it. Tensors live on the model's device.
struct LayerView {
  std::int64_t layer = 0;
  std::int64_t num_layers = 0;
  at::Tensor keys;       ///< [Hkv, T, d], RoPE applied
  at::Tensor values;     ///< [Hkv, T, d]
  at::Tensor queries;    ///< [Hq, Tq, d], RoPE applied: the last Tq prompt positions (undefined if none asked;
                         ///< the reconstruction queries in the reconstruction pass)
  at::Tensor token_ids;  ///< int64 [T]
  double scale = 1.0;    ///< the attention scale, 1/sqrt(d)
  std::int64_t num_query_heads = 0;  ///< Hq (0: as many as `queries` has, or Hkv without queries)
  at::Tensor out_proj;       ///< [D, Hq d], the layer's o_proj weight (undefined when unavailable)
  at::Tensor rope_inv_freq;  ///< float32 [d/2], the RoPE inverse frequencies (rotate-half; undefined when unavailable)
  LayerMemo* memo = nullptr;  ///< shared by the prefill's policies for this layer (may be null)
  /// Reconstruction pass only (PolicyInputs::reconstruction; undefined otherwise): the keys [Hkv, N, d] of the
  /// whole extended sequence X = prompt ++ repeat instruction ++ prompt, RoPE applied (`keys` are its first T
  /// rows). `queries` then holds X's queries of positions reconstruction_start .. N - 1.
  at::Tensor reconstruction_keys;
  std::int64_t reconstruction_start = 0;  ///< absolute position of queries' first row in the reconstruction pass

  std::int64_t prompt_len() const { return keys.size(1); }
  std::int64_t num_kv_heads() const { return keys.size(0); }
  std::int64_t query_heads() const {
    return num_query_heads > 0 ? num_query_heads : queries.defined() ? queries.size(0) : num_kv_heads();
  }
};

/// An eviction policy: chooses, per layer and cache head (KV head, or query head: granularity()), which prompt
/// positions stay in the cache.
/// Implementations are registered in policies/registry.cpp and built from a PolicySpec.
class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  /// Name and effective parameters, e.g. "streaming(budget=128, sinks=4)".
  virtual std::string describe() const = 0;
  /// The inputs select() needs; the engine keeps only what some policy asks for.
  virtual PolicyInputs inputs() const { return {}; }
  /// Called once per prompt before layer 0: resolve the budget, reset cross-layer state.
  virtual void begin_sequence(const SequenceInfo& info) {}
  /// The positions to keep for every cache head of `layer`.
  virtual KeptPositions select(const LayerView& layer) = 0;
  /// Called after the last layer. Policies whose allocation needs every layer (CAKE) return, per layer, a
  /// subset of what select() kept to trim to (std::nullopt: keep as is); the rest return nothing.
  virtual std::vector<std::optional<KeptPositions>> finish_sequence() { return {}; }
  /// The budget B (tokens per KV head per layer, window included) resolved for the current sequence, or 0
  /// when the policy keeps everything.
  virtual std::int64_t resolved_budget() const { return 0; }
  /// "kv_head" (one kept set per KV head, kvbench's cache) or "query_head" (one per query head: the cache holds
  /// K/V repeated to the query heads, g times the bytes, as KVCache-Factory's and Ada-KV's default caches).
  virtual std::string granularity() const { return "kv_head"; }
  /// The trailing prompt positions every head always keeps (0: none).
  virtual std::int64_t kept_window() const { return 0; }
};

}  // namespace kvbench
