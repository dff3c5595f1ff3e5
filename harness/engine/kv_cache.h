#pragma once
// The KV cache of one sequence, stored per cache head: per KV head (GQA heads are not expanded), or, for
// policies of per-query-head granularity, per query head (head i holding entries of KV head i / g: K and V
// repeated, g times the bytes, as KVCache-Factory and Ada-KV store them; decode then maps query head i to cache
// head i).
//
// Each layer holds two parts:
//  - the compressed prompt: the entries an eviction policy kept, flattened head-major ([N, d] with host
//    offsets), so heads may hold different numbers of entries and no evicted entry takes memory; each entry
//    keeps its original position;
//  - the decode tail: one entry per head per generated token, dense [Hkv, capacity, d] and preallocated, so
//    decode appends without reallocating.
// When every head keeps the same count (uniform policies) the prompt part is also viewable as [Hkv, B, d],
// which lets decode attention use plain batched matrix products.

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "policies/policy.h"

namespace kvbench {

class LayerCache {
 public:
  /// Stores the entries `kept` selects from the layer's full prefill keys/values [Hkv, T, d]; `kept` has one list
  /// per KV head, or per query head (a multiple of Hkv: cache head i takes its entries from KV head i / g).
  void set_prompt(const at::Tensor& keys, const at::Tensor& values, const KeptPositions& kept);
  /// Keeps only `kept`, a subset (per head) of the prompt positions held now. Only before decoding starts.
  void keep_subset(const KeptPositions& kept);
  /// The kept prompt positions of each head (sorted), on the host.
  std::vector<std::vector<std::int64_t>> kept_positions() const;
  /// Preallocates room for `capacity` decode entries per head.
  void reserve_tail(std::int64_t capacity);
  /// Appends one entry per head: k and v [Hkv, d] (repeated to the query heads in a per-query-head cache). Decode
  /// entries are at positions prompt_len, prompt_len+1, ...
  void append(const at::Tensor& k, const at::Tensor& v);
  /// Replaces the decode entries with copies of k and v [Hkv, t, d] (a decode that kept them elsewhere).
  void set_tail(const at::Tensor& k, const at::Tensor& v);

  /// Decode-time eviction: head h keeps the entries rows_per_head[h] (ascending) of its entries in the order
  /// [its prompt entries, its decode entries]; what is kept becomes the prompt part (ragged per head) and the
  /// decode tail starts empty again. Positions are preserved.
  void keep_entries(const std::vector<at::Tensor>& rows_per_head);
  /// Entries head h holds now (prompt part plus decode tail).
  std::int64_t entries(std::int64_t head) const { return offsets_[head + 1] - offsets_[head] + tail_len_; }
  /// Keys, values and positions of head h's entries in keep_entries' order: [n, d], [n, d], int64 [n].
  at::Tensor head_keys(std::int64_t head) const;
  at::Tensor head_values(std::int64_t head) const;
  at::Tensor head_positions(std::int64_t head) const;

  std::int64_t num_heads() const { return static_cast<std::int64_t>(offsets_.size()) - 1; }
  bool uniform() const { return uniform_; }
  /// Prompt entries of each head (uniform caches only): [Hkv, B, d].
  at::Tensor prompt_keys_by_head() const;
  at::Tensor prompt_values_by_head() const;
  /// Flat prompt entries [N, d], their owning head [N] and original positions [N].
  const at::Tensor& prompt_keys() const { return keys_; }
  const at::Tensor& prompt_values() const { return values_; }
  const at::Tensor& prompt_heads() const { return heads_; }
  const at::Tensor& prompt_positions() const { return positions_; }
  const std::vector<std::int64_t>& prompt_offsets() const { return offsets_; }
  /// Decode entries so far: [Hkv, tail_length, d].
  at::Tensor tail_keys() const { return tail_keys_.narrow(1, 0, tail_len_); }
  at::Tensor tail_values() const { return tail_values_.narrow(1, 0, tail_len_); }
  std::int64_t tail_length() const { return tail_len_; }
  /// Bytes of keys and values held: kept prompt entries plus the decode entries written so far.
  std::int64_t bytes_used() const;
  /// Bytes allocated, including the unused part of the preallocated decode tail.
  std::int64_t bytes_allocated() const;

 private:
  std::int64_t prompt_len_ = 0;
  at::Tensor keys_, values_;   // [N, d]
  at::Tensor heads_;           // int64 [N], owning KV head of each entry
  at::Tensor positions_;       // int64 [N], original prompt position of each entry
  std::vector<std::int64_t> offsets_;
  bool uniform_ = true;
  at::Tensor tail_keys_, tail_values_;  // [Hkv, capacity, d]
  std::int64_t tail_len_ = 0;
  std::int64_t tail_start_ = 0;  // position of decode entry 0: prompt_len_, later than that after keep_entries
};

/// All layers' caches of one sequence.
struct KvCache {
  std::vector<LayerCache> layers;
  std::int64_t prompt_len = 0;
  std::int64_t next_position = 0;  ///< position of the next token to decode

  std::int64_t bytes_used() const;
};

}  // namespace kvbench
