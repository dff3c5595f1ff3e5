#pragma once
// Many sequences in flight: a fixed set of decode slots over one ragged decoder, which sequences of different
// prompts join and leave at any step.
//
// Decode is bound by reading the weights: one step over 64 sequences costs little more than one over a single
// sequence. A sample's variants already decode together (decode_batch); a pool also keeps other samples'
// sequences in the same steps, and admits the next sample's sequences into the slots that finished ones leave
// (continuous batching). Each slot has its own position, decode entries and tail slot on the device
// (RaggedDecoder::bind_slot), so a sequence's tokens are those it would get decoding alone, up to the
// floating-point order of the batched matrix products (identical in f32 on the paths kvbench tests).
//
// Stops are seen per sequence: the host reads the generated ids every few steps (16 on CUDA, every step on
// the CPU), ends the sequences that emitted a stop id or reached their max new tokens, and parks their slots.
// Tokens a sequence produced after its stop (before the host looked) are dropped, so results do not change.

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "harness/engine/engine.h"
#include "harness/engine/ragged_decoder.h"

namespace kvbench {

/// One sequence handed to a pool.
struct PoolSequence {
  std::uint64_t tag = 0;           ///< the caller's name for it, returned with its result
  const KvCache* cache = nullptr;  ///< read, not extended; must stay alive until its result comes back
  at::Tensor first_logits;         ///< float32 [V]: the logits its first token is chosen from
  GenerateOptions options;         ///< max/min new tokens and stop ids (the pool's path decides the rest)
};

/// A finished sequence.
struct PoolResult {
  std::uint64_t tag = 0;
  GenerationResult result;  ///< decode_seconds: from its admission to the step the host saw it end;
                            ///< batch_size: the mean number of sequences that shared its steps
};

/// A set of decode slots of one capacity (RaggedShape: slots, cache heads, entries per head, tail, positions).
class DecodePool {
 public:
  /// `graphs`: replay each step as a CUDA graph (CUDA only). The model must be one RaggedDecoder supports.
  DecodePool(const Transformer& model, const RaggedShape& capacity, bool graphs);
  ~DecodePool();

  const RaggedShape& capacity() const { return decoder_.capacity(); }
  /// Whether a sequence over `cache` for `max_new` tokens fits this pool's slots (heads, entries, positions) and
  /// its RoPE tables are those of the sequences in flight (longrope's factors follow the prompt's length).
  bool fits(const KvCache& cache, std::int64_t max_new) const;
  std::int64_t free_slots() const;
  /// Sequences admitted and not yet returned.
  std::int64_t in_flight() const { return capacity().batch - free_slots() + static_cast<std::int64_t>(done_.size()); }

  /// Admits `s` into a free slot (there must be one, and it must fit); its first token is chosen now.
  void admit(PoolSequence s);
  /// Steps every slot until at least one sequence has ended (or none is left) and returns those that ended.
  std::vector<PoolResult> run_until_finished();

 private:
  struct Slot;
  void finish(std::int64_t b, std::int64_t length, const char* reason);
  void scan();  // reads the generated ids and ends the sequences that stopped or are full
  at::Tensor first_token(const at::Tensor& logits, const Slot& s) const;  // greedy, stop ids masked if asked

  RaggedDecoder decoder_;
  at::Device device_;
  std::int64_t interval_ = 1;   // steps between the host's reads of the generated ids
  at::Tensor history_;          // int64 [B, tail_slots + 1] on the device: each slot's generated ids
  at::Tensor column_;           // int64 [B]: where each slot's next id goes in history_
  at::Tensor alive_;            // int64 [B]: 1 for a slot holding a sequence
  at::Tensor previous_;         // int64 [B]: the ids the next step feeds
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<PoolResult> done_;
  std::int64_t unscanned_steps_ = 0;
};

}  // namespace kvbench
