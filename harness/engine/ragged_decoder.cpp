#include "harness/engine/ragged_decoder.h"

#include <algorithm>
#include <cmath>

#include "harness/common/error.h"

namespace kvbench {
namespace {

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

at::Tensor host_longs(const std::vector<std::int64_t>& values, bool pinned) {
  at::Tensor t = at::tensor(values, at::kLong);
  return pinned ? t.pin_memory() : t;
}

}  // namespace

RaggedShape RaggedShape::of(const std::vector<const KvCache*>& caches, std::int64_t max_new) {
  KV_CHECK(!caches.empty() && !caches[0]->layers.empty(), "internal error: a ragged decode without caches");
  RaggedShape s;
  s.batch = static_cast<std::int64_t>(caches.size());
  s.heads = caches[0]->layers[0].num_heads();
  s.tail_slots = caches[0]->layers[0].tail_length() + max_new;
  std::int64_t most = 0;
  for (const KvCache* cache : caches)
    for (const LayerCache& layer : cache->layers) {
      KV_CHECK(layer.num_heads() == s.heads, "internal error: a ragged batch of caches with different head counts");
      for (std::int64_t h = 0; h < layer.num_heads(); ++h)
        most = std::max(most, layer.prompt_offsets()[h + 1] - layer.prompt_offsets()[h]);
    }
  s.max_entries = most + s.tail_slots;
  s.max_position = caches[0]->next_position + max_new;
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
  if (!model.device().is_cuda()) return true;
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
  scale_ = 1.0 / std::sqrt(static_cast<double>(d_));
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
    zero_slot_ = at::zeros({1}, longs);
  }
  meta_ = at::zeros({L_, B, 3 + Hc_}, longs);
  counters_ = at::zeros({3}, longs);
  tokens_ = at::zeros({B}, longs);
  const auto tables = model.rope().tables(at::arange(capacity.max_position, longs), model.dtype());
  cos_ = tables.first.contiguous();
  sin_ = tables.second.contiguous();
  split_ = ops::DecodeSplit::plan(capacity.max_entries, B, Hc_, ops::multiprocessor_count(dev));
}

void RaggedDecoder::bind(const std::vector<const KvCache*>& caches) {
  const RaggedShape need = RaggedShape::of(caches, 0);
  KV_CHECK(need.batch == capacity_.batch && need.max_entries <= capacity_.max_entries &&
               need.max_position <= capacity_.max_position,
           "internal error: caches bound to a ragged decoder too small for them");
  const at::Device dev = model_.device();
  const bool pinned = dev.is_cuda();
  const std::int64_t B = capacity_.batch, M = 3 + Hc_, t0 = caches[0]->layers[0].tail_length();
  at::Tensor meta = at::empty({L_, B, M}, at::kLong);
  if (pinned) meta = meta.pin_memory();
  std::int64_t* m = meta.data_ptr<std::int64_t>();
  for (std::int64_t l = 0; l < L_; ++l) {
    for (std::int64_t b = 0; b < B; ++b) {
      const LayerCache& layer = caches[b]->layers[l];
      KV_CHECK(layer.tail_length() == t0 && caches[b]->next_position == caches[0]->next_position,
               "internal error: batched caches must continue the same prompt");
      const at::Tensor& pk = layer.prompt_keys();
      const at::Tensor& pv = layer.prompt_values();
      KV_CHECK(pk.is_contiguous() && pv.is_contiguous() && pk.device().type() == dev.type() &&
                   pk.scalar_type() == model_.dtype() &&
                   layer.num_heads() == Hc_,
               "internal error: a cache the ragged decoder cannot read (layout, device or dtype)");
      std::int64_t* row = m + (l * B + b) * M;
      row[0] = reinterpret_cast<std::int64_t>(pk.data_ptr());
      row[1] = reinterpret_cast<std::int64_t>(pv.data_ptr());
      for (std::int64_t h = 0; h <= Hc_; ++h) row[2 + h] = layer.prompt_offsets()[h];
    }
  }
  meta_.copy_(meta, /*non_blocking=*/pinned);
  meta_staging_ = meta;
  initial_counters_ = host_longs({t0, caches[0]->next_position, t0 + 1}, pinned);
  bound_ = caches;
  bound_tail_ = t0;
  steps_ = 0;
  reset_state();
}

void RaggedDecoder::reset_state() {
  counters_.copy_(initial_counters_, /*non_blocking=*/model_.device().is_cuda());
  if (bound_tail_ == 0) return;
  for (std::int64_t l = 0; l < L_; ++l)
    for (std::size_t b = 0; b < bound_.size(); ++b) {
      const LayerCache& layer = bound_[b]->layers[l];
      tail_k_[l][b].narrow(1, 0, bound_tail_).copy_(layer.tail_keys());
      tail_v_[l][b].narrow(1, 0, bound_tail_).copy_(layer.tail_values());
    }
}

void RaggedDecoder::forward() {
  const std::int64_t B = capacity_.batch;
  const at::Tensor slot = counters_.narrow(0, 0, 1), position = counters_.narrow(0, 1, 1);
  const at::Tensor entries = counters_.narrow(0, 2, 1);
  at::Tensor x = model_.embed(tokens_);  // [B, D]
  for (std::int64_t l = 0; l < L_; ++l) {
    const at::Tensor fused = model_.qkv(l, x);
    const at::Tensor q = at::empty({B, Hq_, d_}, x.options());
    ops::RaggedBatch batch{meta_[l], tail_k_[l], tail_v_[l], entries};
    if (Hc_ == Hkv_) {
      ops::rope_split_at(fused, cos_, sin_, position, Hq_, Hkv_, q, batch.tail_k, batch.tail_v, slot);
    } else {  // a per-query-head cache: the step's entry of each KV head goes to its g query heads' slots
      ops::rope_split_at(fused, cos_, sin_, position, Hq_, Hkv_, q, stage_k_, stage_v_, zero_slot_);
      const std::int64_t g = Hc_ / Hkv_, slots = capacity_.tail_slots;
      batch.tail_k.view({B, Hkv_, g, slots, d_}).index_copy_(3, slot, stage_k_.unsqueeze(2).expand({B, Hkv_, g, 1, d_}));
      batch.tail_v.view({B, Hkv_, g, slots, d_}).index_copy_(3, slot, stage_v_.unsqueeze(2).expand({B, Hkv_, g, 1, d_}));
    }
    model_.finish_layer_(l, x, ops::decode_attention(q, batch, scale_, split_));
  }
  logits_ = model_.logits(x);
  counters_.add_(1);
}

at::Tensor RaggedDecoder::step(const at::Tensor& previous) {
  KV_CHECK(!bound_.empty(), "internal error: a ragged decoder stepped before bind()");
  KV_CHECK(bound_tail_ + steps_ < capacity_.tail_slots, "internal error: the ragged decoder's tail is full");
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
  return logits_;
}

void RaggedDecoder::copy_tail_to(std::size_t index, KvCache& cache) const {
  const std::int64_t t = bound_tail_ + steps_;
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
