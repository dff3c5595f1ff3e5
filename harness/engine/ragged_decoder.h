#pragma once
// Decoding over ragged caches without padding or copies, one CUDA graph per step.
//
// The plain decode path (engine.cpp, batch_cache.h) launches some thirty kernels per layer and step, and pads
// a batch's caches into one dense tensor; at batch 1 the host's launch overhead, not the memory traffic,
// bounds it. This path keeps the prompt entries where the prefill put them (each cache's flat [N, d] rows,
// reached through a table of addresses and head offsets on the device: FlashInfer's plan/run idea), gives
// every sequence a preallocated tail for its decode entries, and runs one step as ten fused launches per layer
// (RMSNorm, QKV GEMM, RoPE + cache append, split-K attention and its combine, o_proj GEMM with the residual,
// RMSNorm, gate/up GEMM, SiLU-mul, down GEMM with the residual). Everything a step changes (token, position,
// cache slot) lives in device memory, so the step is captured once as a CUDA graph and replayed.
//
// A decoder is planned for a batch size and a capacity (entries per head, decode slots) and reused across
// prompts that fit: bind() only rewrites the address table and resets the step counters.

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "harness/engine/kv_cache.h"
#include "harness/device/cuda_graph.h"
#include "harness/device/ops.h"
#include "harness/model/transformer.h"

namespace kvbench {

/// What a RaggedDecoder must hold: batch size, cache heads, entries per head (prompt + decode), decode slots,
/// positions.
struct RaggedShape {
  std::int64_t batch = 0;
  std::int64_t heads = 0;         ///< cache heads per layer: KV heads, or query heads (per-query-head caches)
  std::int64_t max_entries = 0;   ///< largest prompt entries of any head, plus the decode slots
  std::int64_t tail_slots = 0;    ///< decode entries per head
  std::int64_t max_position = 0;  ///< one past the last position a step may use

  /// The shape `caches` need for `max_new` more tokens (the caches continue one prompt).
  static RaggedShape of(const std::vector<const KvCache*>& caches, std::int64_t max_new);
  /// Rounded up, so that later prompts of similar size reuse the decoder (and its captured graph).
  RaggedShape bucketed() const;
  bool fits_in(const RaggedShape& capacity) const;
};

class RaggedDecoder {
 public:
  /// Whether `model` can decode on this path: on CUDA, a kernel for its head dim and GQA group in a build with
  /// kvbench's kernels; on the CPU always (libtorch reference attention; for tests).
  static bool supports(const Transformer& model);

  /// A decoder for caches of up to `capacity` (see RaggedShape); `graphs`: capture each step (CUDA only).
  RaggedDecoder(const Transformer& model, const RaggedShape& capacity, bool graphs);

  const RaggedShape& capacity() const { return capacity_; }
  bool graphs() const { return graphs_; }

  /// Points the decoder at `caches` (one prompt, decode tails of equal length) and resets its step counter.
  /// The caches must stay alive and unchanged until the next bind.
  void bind(const std::vector<const KvCache*>& caches);
  /// One step for every bound sequence: feeds `previous` [B] (int64, on the device) and returns float32
  /// logits [B, V]. The returned tensor is overwritten by the next step.
  at::Tensor step(const at::Tensor& previous);
  /// Steps run since bind().
  std::int64_t steps() const { return steps_; }
  /// Writes the decode entries of bound sequence `index` (those it had at bind plus one per step) into
  /// `cache`'s tail, so that a decode through this path extends the cache as the plain path does.
  void copy_tail_to(std::size_t index, KvCache& cache) const;

 private:
  void forward();        // the step itself: static buffers in, logits_ out, counters advanced
  void reset_state();    // counters and the bound caches' own decode entries, as bind() left them

  const Transformer& model_;
  RaggedShape capacity_;
  bool graphs_ = false;
  ops::DecodeSplit split_;
  std::int64_t L_ = 0, Hq_ = 0, Hkv_ = 0, Hc_ = 0, d_ = 0;  // Hc_: cache heads (Hkv_, or Hq_ per query head)
  double scale_ = 1.0;

  at::Tensor tail_k_, tail_v_;  // [L, B, Hc, slots, d]
  at::Tensor stage_k_, stage_v_, zero_slot_;  // per-query-head caches: the step's [B, Hkv, 1, d], then repeated
  at::Tensor meta_;             // int64 [L, B, 3 + Hc] on the device: see ops::RaggedBatch
  at::Tensor counters_;         // int64 [3] on the device: next slot, next position, entries after the append
  at::Tensor initial_counters_; // int64 [3] on the host (pinned on CUDA): what bind() set
  at::Tensor meta_staging_;     // the host copy of meta_, kept alive while its upload may be in flight
  at::Tensor cos_, sin_;        // RoPE tables [max_position, d]
  at::Tensor tokens_;           // int64 [B]: the step's input
  at::Tensor logits_;           // float32 [B, V]: the step's output

  std::vector<const KvCache*> bound_;
  std::int64_t bound_tail_ = 0;  // decode entries the bound caches had already
  std::int64_t steps_ = 0;
  std::unique_ptr<CapturedGraph> graph_;
};

/// The decoders an engine keeps between prompts (a few, by batch size and capacity).
class RaggedDecoders {
 public:
  /// A decoder that fits `caches` for `max_new` tokens: a kept one, or a new one (the oldest kept one is
  /// dropped beyond a handful).
  RaggedDecoder& get(const Transformer& model, const std::vector<const KvCache*>& caches, std::int64_t max_new,
                     bool graphs);

 private:
  std::vector<std::unique_ptr<RaggedDecoder>> kept_;
};

}  // namespace kvbench
