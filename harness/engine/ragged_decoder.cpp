#include "harness/engine/ragged_decoder.h"

#include <algorithm>
#include <cmath>

#include "harness/common/error.h"

namespace kvbench {
namespace {

// Phi-3's longrope rotates by its long factors once a prompt is longer than the original context.
bool uses_long_factors(const RopeScaling& s, std::int64_t prompt_len) {
  return s.type == RopeScaling::Type::kLongRope && prompt_len > s.original_max_position_embeddings;
}

std::int64_t next_power_of_two(std::int64_t x) {
  std::int64_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

// x rounded up to a quarter of its power of two (waste < 25%), at least 64.
std::int64_t quarter_bucket(std::int64_t x) {
  if (x <= 64) return 64;
  const std::int64_t step = next_power_of_two(x) / 8;
  return (x + step - 1) / step * step;
}

}  // namespace

RaggedShape RaggedShape::of(const std::vector<const KvCache*>& caches, std::int64_t max_new) {
  KV_CHECK(!caches.empty() && !caches[0]->layers.empty(), "internal error: a ragged decode without caches");
  RaggedShape s;
  s.batch = static_cast<std::int64_t>(caches.size());
  s.heads = caches[0]->layers[0].num_heads();
  std::int64_t most = 0;
  for (const KvCache* cache : caches) {
    s.tail_slots = std::max(s.tail_slots, cache->layers[0].tail_length() + max_new);
    s.max_position = std::max(s.max_position, cache->next_position + max_new);
    for (const LayerCache& layer : cache->layers) {
      KV_CHECK(layer.num_heads() == s.heads, "internal error: a ragged batch of caches with different head counts");
      for (std::int64_t h = 0; h < layer.num_heads(); ++h)
        most = std::max(most, layer.prompt_offsets()[h + 1] - layer.prompt_offsets()[h]);
    }
  }
  s.max_entries = most + s.tail_slots;
  return s;
}

RaggedShape RaggedShape::bucketed() const {
  RaggedShape s = *this;
  s.tail_slots = std::max<std::int64_t>(16, next_power_of_two(tail_slots));
  s.max_entries = quarter_bucket(max_entries - tail_slots) + s.tail_slots;
  s.max_position = next_power_of_two(std::max<std::int64_t>(max_position, 1024));
  return s;
}

bool RaggedShape::fits_in(const RaggedShape& c) const {
  return batch == c.batch && heads == c.heads && max_entries <= c.max_entries && tail_slots <= c.tail_slots &&
         max_position <= c.max_position;
}

bool RaggedDecoder::supports(const Transformer& model) {
  const ModelConfig& c = model.config();
  // Features the path does not compute (its RoPE kernel rotates whole heads): such models decode on the
  // reference path. On CUDA the path's steps are captured in graphs, so it also needs a model that reads nothing
  // back to the host (experts do where libtorch has no fused grouped product for them).
  if (c.rotary_dim != c.head_dim) return false;
  if (!model.device().is_cuda()) return true;
  if (!model.capturable()) return false;
  const at::Tensor probe = at::empty({0}, at::TensorOptions().dtype(model.dtype()).device(model.device()));
  return ops::fused(probe) && c.num_heads % c.num_kv_heads == 0 &&
         ops::decode_attention_supported(c.head_dim, c.num_heads / c.num_kv_heads);
}

RaggedDecoder::RaggedDecoder(const Transformer& model, const RaggedShape& capacity, bool graphs)
    : model_(model), capacity_(capacity) {
  const ModelConfig& c = model.config();
  const at::Device dev = model.device();
  L_ = c.num_layers;
  Hq_ = c.num_heads;
  Hkv_ = c.num_kv_heads;
  Hc_ = capacity.heads > 0 ? capacity.heads : Hkv_;
  KV_CHECK(Hc_ % Hkv_ == 0 && Hq_ % Hc_ == 0, "internal error: a cache of ", Hc_, " heads for ", Hkv_, " KV heads");
  d_ = c.head_dim;
  graphs_ = graphs && dev.is_cuda() && CapturedGraph::available();
  const std::int64_t B = capacity.batch;
  const auto opts = at::TensorOptions().dtype(model.dtype()).device(dev);
  const auto longs = at::TensorOptions().dtype(at::kLong).device(dev);
  // Zeros, not garbage: slots past the live entries are never read, but a NaN must not hide anywhere.
  tail_k_ = at::zeros({L_, B, Hc_, capacity.tail_slots, d_}, opts);
  tail_v_ = at::zeros({L_, B, Hc_, capacity.tail_slots, d_}, opts);
  if (Hc_ != Hkv_) {
    stage_k_ = at::zeros({B, Hkv_, 1, d_}, opts);
    stage_v_ = at::zeros({B, Hkv_, 1, d_}, opts);
    zero_slots_ = at::zeros({B}, longs);
  }
  dummy_ = at::zeros({1, d_}, opts);
  dummy_positions_ = at::zeros({1}, longs);
  meta_ = at::zeros({L_, B, ops::kRaggedMetaHeader + 1 + Hc_}, longs);
  counters_ = at::zeros({3, B}, longs);
  active_ = at::zeros({B}, longs);
  meta_host_ = at::zeros({L_, B, ops::kRaggedMetaHeader + 1 + Hc_}, at::kLong);
  counters_host_ = at::zeros({3, B}, at::kLong);
  active_host_ = at::zeros({B}, at::kLong);
  bound_.assign(static_cast<std::size_t>(B), nullptr);
  bound_tail_.assign(static_cast<std::size_t>(B), 0);
  slot_steps_.assign(static_cast<std::size_t>(B), 0);
  for (std::int64_t b = 0; b < B; ++b) park_slot(b);
  tokens_ = at::zeros({B}, longs);
  // Decode rows only: each position's own length sets a dynamic NTK scale; longrope's factors follow the prompt
  // (set_tables at bind).
  set_tables(0);
  split_ = ops::DecodeSplit::plan(capacity.max_entries, B, Hc_, ops::multiprocessor_count(dev));
}

void RaggedDecoder::set_tables(std::int64_t prompt_len) {
  const ModelConfig& c = model_.config();
  const bool long_factors = uses_long_factors(c.rope_scaling, prompt_len);
  if (!cos_.empty() && long_factors == long_factors_) return;
  const auto longs = at::TensorOptions().dtype(at::kLong).device(model_.device());
  const RopeTables t = model_.rope_tables(at::arange(capacity_.max_position, longs), prompt_len);
  for (std::size_t r = 0; r < t.cos.size(); ++r) {
    if (cos_.size() <= r) {
      cos_.push_back(t.cos[r].contiguous());
      sin_.push_back(t.sin[r].contiguous());
    } else {  // in place: a captured graph reads these buffers
      cos_[r].copy_(t.cos[r]);
      sin_[r].copy_(t.sin[r]);
    }
  }
  long_factors_ = long_factors;
}

bool RaggedDecoder::rope_fits(std::int64_t prompt_len) const {
  if (uses_long_factors(model_.config().rope_scaling, prompt_len) == long_factors_) return true;
  return std::all_of(bound_.begin(), bound_.end(), [](const KvCache* c) { return c == nullptr; });
}

void RaggedDecoder::write_slot_meta(std::int64_t b, const KvCache* cache) {
  const std::int64_t M = ops::kRaggedMetaHeader + 1 + Hc_;
  std::int64_t* m = meta_host_.data_ptr<std::int64_t>();
  for (std::int64_t l = 0; l < L_; ++l) {
    std::int64_t* row = m + (l * capacity_.batch + b) * M;
    if (cache == nullptr) {  // parked: no prompt entries, and a valid address all the same
      row[0] = row[1] = reinterpret_cast<std::int64_t>(dummy_.data_ptr());
      row[2] = reinterpret_cast<std::int64_t>(dummy_positions_.data_ptr());
      std::fill(row + ops::kRaggedMetaHeader, row + M, 0);
      continue;
    }
    const LayerCache& layer = cache->layers[static_cast<std::size_t>(l)];
    const at::Tensor& pk = layer.prompt_keys();
    const at::Tensor& pv = layer.prompt_values();
    const at::Tensor& pp = layer.prompt_positions();
    KV_CHECK(pk.is_contiguous() && pv.is_contiguous() && pp.is_contiguous() &&
                 pk.device().type() == model_.device().type() && pk.scalar_type() == model_.dtype() &&
                 layer.num_heads() == Hc_,
             "internal error: a cache the ragged decoder cannot read (layout, device or dtype)");
    row[0] = reinterpret_cast<std::int64_t>(pk.data_ptr());
    row[1] = reinterpret_cast<std::int64_t>(pv.data_ptr());
    row[2] = reinterpret_cast<std::int64_t>(pp.data_ptr());
    for (std::int64_t h = 0; h <= Hc_; ++h) row[ops::kRaggedMetaHeader + h] = layer.prompt_offsets()[h];
  }
}

void RaggedDecoder::bind_slot(std::int64_t b, const KvCache& cache) {
  const std::vector<const KvCache*> one = {&cache};
  RaggedShape need = RaggedShape::of(one, 0);
  need.batch = capacity_.batch;
  KV_CHECK(b >= 0 && b < capacity_.batch && need.fits_in(capacity_) && static_cast<std::int64_t>(cache.layers.size()) == L_,
           "internal error: a cache bound to a ragged decoder too small for it");
  bound_[static_cast<std::size_t>(b)] = nullptr;  // a slot bound again may change the tables if it was the last
  KV_CHECK(rope_fits(cache.prompt_len), "internal error: a sequence whose RoPE tables differ from the bound ones");
  set_tables(cache.prompt_len);  // longrope: the factors follow the prompt's length
  write_slot_meta(b, &cache);
  const std::int64_t t0 = cache.layers[0].tail_length();
  for (std::int64_t l = 0; l < L_ && t0 > 0; ++l) {
    const LayerCache& layer = cache.layers[static_cast<std::size_t>(l)];
    KV_CHECK(layer.tail_length() == t0, "internal error: a cache whose layers hold different decode entries");
    tail_k_[l][b].narrow(1, 0, t0).copy_(layer.tail_keys());
    tail_v_[l][b].narrow(1, 0, t0).copy_(layer.tail_values());
  }
  auto* c = counters_host_.data_ptr<std::int64_t>();
  const std::int64_t B = capacity_.batch;
  c[b] = t0;                        // the step's entry goes to tail slot t0
  c[B + b] = cache.next_position;   // at the sequence's own next position
  c[2 * B + b] = t0 + 1;            // and attention then sees t0 + 1 decode entries
  active_host_.data_ptr<std::int64_t>()[b] = 1;
  const auto i = static_cast<std::size_t>(b);
  bound_[i] = &cache;
  bound_tail_[i] = t0;
  slot_steps_[i] = 0;
  dirty_ = true;
}

void RaggedDecoder::park_slot(std::int64_t b) {
  KV_CHECK(b >= 0 && b < capacity_.batch, "internal error: no slot ", b);
  write_slot_meta(b, nullptr);
  auto* c = counters_host_.data_ptr<std::int64_t>();
  const std::int64_t B = capacity_.batch;
  c[b] = 0;
  c[B + b] = 0;
  c[2 * B + b] = 1;  // its own entry at tail slot 0: a finite softmax over one entry
  active_host_.data_ptr<std::int64_t>()[b] = 0;
  const auto i = static_cast<std::size_t>(b);
  bound_[i] = nullptr;
  bound_tail_[i] = slot_steps_[i] = 0;
  dirty_ = true;
}

void RaggedDecoder::bind(const std::vector<const KvCache*>& caches) {
  KV_CHECK(static_cast<std::int64_t>(caches.size()) == capacity_.batch,
           "internal error: caches bound to a ragged decoder of another batch size");
  std::fill(bound_.begin(), bound_.end(), nullptr);  // a new set of sequences: the old ones' tables do not bind it
  for (std::size_t b = 0; b < caches.size(); ++b) bind_slot(static_cast<std::int64_t>(b), *caches[b]);
  steps_ = 0;
  upload();
}

void RaggedDecoder::upload() {
  if (!dirty_) return;
  // Blocking copies from pageable memory: the host copies may change right after (an admission is rare beside
  // the steps, so the wait costs nothing that matters).
  meta_.copy_(meta_host_);
  counters_.copy_(counters_host_);
  active_.copy_(active_host_);
  dirty_ = false;
}

void RaggedDecoder::reset_state() {
  counters_.copy_(counters_host_);
  for (std::int64_t l = 0; l < L_; ++l)
    for (std::size_t b = 0; b < bound_.size(); ++b) {
      if (bound_[b] == nullptr || bound_tail_[b] == 0) continue;
      const LayerCache& layer = bound_[b]->layers[static_cast<std::size_t>(l)];
      tail_k_[l][static_cast<std::int64_t>(b)].narrow(1, 0, bound_tail_[b]).copy_(layer.tail_keys());
      tail_v_[l][static_cast<std::int64_t>(b)].narrow(1, 0, bound_tail_[b]).copy_(layer.tail_values());
    }
}

std::int64_t RaggedDecoder::tail_length(std::int64_t b) const {
  const auto i = static_cast<std::size_t>(b);
  return bound_tail_[i] + slot_steps_[i];
}

void RaggedDecoder::forward() {
  const std::int64_t B = capacity_.batch;
  const at::Tensor slot = counters_[0], position = counters_[1], entries = counters_[2];  // each [B]
  at::Tensor x = model_.embed(tokens_);  // [B, D]
  for (std::int64_t l = 0; l < L_; ++l) {
    const at::Tensor fused = model_.qkv(l, x);
    const at::Tensor q = at::empty({B, Hq_, d_}, x.options());
    ops::RaggedBatch batch{meta_[l], tail_k_[l], tail_v_[l], entries};
    const std::size_t r = model_.layer_weights(l).rope;
    if (Hc_ == Hkv_) {
      ops::rope_split_at(fused, cos_[r], sin_[r], position, Hq_, Hkv_, q, batch.tail_k, batch.tail_v, slot);
    } else {  // a per-query-head cache: the step's entry of each KV head goes to its g query heads' slots
      ops::rope_split_at(fused, cos_[r], sin_[r], position, Hq_, Hkv_, q, stage_k_, stage_v_, zero_slots_);
      const std::int64_t g = Hc_ / Hkv_, slots = capacity_.tail_slots;
      const at::Tensor where = slot.view({B, 1, 1, 1, 1}).expand({B, Hkv_, g, 1, d_});  // each sequence's slot
      batch.tail_k.view({B, Hkv_, g, slots, d_}).scatter_(3, where, stage_k_.unsqueeze(2).expand({B, Hkv_, g, 1, d_}));
      batch.tail_v.view({B, Hkv_, g, slots, d_}).scatter_(3, where, stage_v_.unsqueeze(2).expand({B, Hkv_, g, 1, d_}));
    }
    const AttentionSpec& a = model_.attention(l);
    const ops::DecodeMask mask{a.softcap, a.window, position};
    model_.finish_layer_(l, x, ops::decode_attention(q, batch, a.scale, split_, mask));
  }
  logits_ = model_.logits(x);
  counters_.add_(active_);  // bound slots advance; parked ones stay on their one entry
}

at::Tensor RaggedDecoder::step(const at::Tensor& previous) {
  for (std::size_t b = 0; b < bound_.size(); ++b)
    KV_CHECK(bound_[b] == nullptr || bound_tail_[b] + slot_steps_[b] < capacity_.tail_slots,
             "internal error: the ragged decoder's tail is full");
  upload();
  tokens_.copy_(previous);
  if (graphs_) {
    if (!graph_) {
      graph_ = std::make_unique<CapturedGraph>();
      graph_->capture([this] { forward(); });
      reset_state();  // undo the warm-up run's step
    }
    graph_->replay();
  } else {
    forward();
  }
  ++steps_;
  // The host copy of the counters follows the device's, so that the next upload (an admission) rewrites them
  // as they are.
  auto* c = counters_host_.data_ptr<std::int64_t>();
  const std::int64_t B = capacity_.batch;
  for (std::int64_t b = 0; b < B; ++b)
    if (bound_[static_cast<std::size_t>(b)] != nullptr) {
      ++slot_steps_[static_cast<std::size_t>(b)];
      ++c[b];
      ++c[B + b];
      ++c[2 * B + b];
    }
  return logits_;
}

void RaggedDecoder::copy_tail_to(std::size_t index, KvCache& cache) const {
  const std::int64_t t = tail_length(static_cast<std::int64_t>(index));
  for (std::int64_t l = 0; l < L_; ++l)
    cache.layers[l].set_tail(tail_k_[l][index].narrow(1, 0, t), tail_v_[l][index].narrow(1, 0, t));
}

RaggedDecoder& RaggedDecoders::get(const Transformer& model, const std::vector<const KvCache*>& caches,
                                   std::int64_t max_new, bool graphs) {
  const RaggedShape need = RaggedShape::of(caches, max_new);
  const bool effective_graphs = graphs && model.device().is_cuda() && CapturedGraph::available();
  for (auto& d : kept_)
    if (d->graphs() == effective_graphs && need.fits_in(d->capacity())) return *d;
  constexpr std::size_t kKept = 3;  // each holds its tails and graph; a run uses one or two shapes at a time
  if (kept_.size() >= kKept) kept_.erase(kept_.begin());
  kept_.push_back(std::make_unique<RaggedDecoder>(model, need.bucketed(), graphs));
  return *kept_.back();
}

}  // namespace kvbench
