#include "harness/engine/kv_cache.h"

#include <algorithm>

#include "harness/common/error.h"
#include "harness/device/transfer.h"

namespace kvbench {
namespace {
// The owning KV head of each flat entry: [0]*count(0) ++ [1]*count(1) ++ ...
at::Tensor owner_heads(const KeptPositions& kept, at::Device device) {
  // Built on the device (output size known on the host), so storing a layer never waits for the device.
  const auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor heads = at::arange(kept.num_heads(), opts);
  if (kept.is_uniform()) return heads.repeat_interleave(kept.num_heads() > 0 ? kept.count(0) : 0);
  std::vector<std::int64_t> counts;
  for (std::int64_t h = 0; h < kept.num_heads(); ++h) counts.push_back(kept.count(h));
  return at::repeat_interleave(heads, device_longs(counts, device), /*dim=*/0, /*output_size=*/kept.total());
}
}  // namespace

void LayerCache::set_prompt(const at::Tensor& keys, const at::Tensor& values, const KeptPositions& kept) {
  const std::int64_t H = keys.size(0), T = keys.size(1), d = keys.size(2);
  KV_CHECK(kept.num_heads() > 0 && kept.num_heads() % H == 0, "policy kept positions for ", kept.num_heads(),
           " heads, the layer has ", H, " KV heads");
  const std::int64_t group = kept.num_heads() / H;  // 1, or the query heads per KV head of a per-query-head cache
  offsets_ = kept.offsets;
  uniform_ = kept.is_uniform();
  prompt_len_ = T;
  tail_start_ = T;
  heads_ = owner_heads(kept, keys.device());
  positions_ = kept.indices.to(keys.device());
  if (kept.everything && group == 1) {
    keys_ = keys.reshape({H * T, d});
    values_ = values.reshape({H * T, d});
    return;
  }
  const at::Tensor flat = heads_.div(group, "floor") * T + positions_;  // row index into [H * T, d]
  keys_ = keys.reshape({H * T, d}).index_select(0, flat);
  values_ = values.reshape({H * T, d}).index_select(0, flat);
}

void LayerCache::keep_subset(const KeptPositions& kept) {
  KV_CHECK(tail_len_ == 0, "internal error: trimming a cache after decoding started");
  KV_CHECK(kept.num_heads() == num_heads(), "trim for ", kept.num_heads(), " heads, the layer has ", num_heads());
  // Entries are ordered by (head, position), so head * T + position is sorted: search the new keys in it.
  const at::Tensor new_heads = owner_heads(kept, heads_.device());
  const at::Tensor new_positions = kept.indices.to(heads_.device());
  const at::Tensor current = heads_ * prompt_len_ + positions_;
  const at::Tensor wanted = new_heads * prompt_len_ + new_positions;
  const at::Tensor rows = at::searchsorted(current, wanted);
  KV_CHECK(rows.numel() == 0 || (rows.max().item<std::int64_t>() < current.numel() &&
                                 at::equal(current.index_select(0, rows), wanted)),
           "policy trimmed to positions it had not kept");
  keys_ = keys_.index_select(0, rows);
  values_ = values_.index_select(0, rows);
  heads_ = new_heads;
  positions_ = new_positions;
  offsets_ = kept.offsets;
  uniform_ = kept.is_uniform();
}

at::Tensor LayerCache::head_keys(std::int64_t h) const {
  const at::Tensor prompt = keys_.narrow(0, offsets_[h], offsets_[h + 1] - offsets_[h]);
  return tail_len_ == 0 ? prompt : at::cat({prompt, tail_keys().select(0, h)});
}

at::Tensor LayerCache::head_values(std::int64_t h) const {
  const at::Tensor prompt = values_.narrow(0, offsets_[h], offsets_[h + 1] - offsets_[h]);
  return tail_len_ == 0 ? prompt : at::cat({prompt, tail_values().select(0, h)});
}

at::Tensor LayerCache::head_positions(std::int64_t h) const {
  const at::Tensor tail = at::arange(tail_start_, tail_start_ + tail_len_, positions_.options());
  return at::cat({positions_.narrow(0, offsets_[h], offsets_[h + 1] - offsets_[h]), tail});
}

void LayerCache::keep_entries(const std::vector<at::Tensor>& rows_per_head) {
  KV_CHECK(static_cast<std::int64_t>(rows_per_head.size()) == num_heads(), "internal error: keep_entries for ",
           rows_per_head.size(), " heads, the layer has ", num_heads());
  std::vector<at::Tensor> k, v, pos;
  KeptPositions kept;
  kept.offsets = {0};
  for (std::int64_t h = 0; h < num_heads(); ++h) {
    const at::Tensor rows = rows_per_head[static_cast<std::size_t>(h)].to(keys_.device());
    k.push_back(head_keys(h).index_select(0, rows));
    v.push_back(head_values(h).index_select(0, rows));
    pos.push_back(head_positions(h).index_select(0, rows));
    kept.offsets.push_back(kept.offsets.back() + rows.numel());
  }
  tail_start_ += tail_len_;
  tail_len_ = 0;
  keys_ = at::cat(k);
  values_ = at::cat(v);
  positions_ = at::cat(pos);
  offsets_ = kept.offsets;
  uniform_ = kept.is_uniform();
  heads_ = owner_heads(kept, keys_.device());
}

std::vector<std::vector<std::int64_t>> LayerCache::kept_positions() const {
  const at::Tensor host = positions_.to(at::kCPU).contiguous();
  const auto* p = host.data_ptr<std::int64_t>();
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t h = 0; h < num_heads(); ++h) out.emplace_back(p + offsets_[h], p + offsets_[h + 1]);
  return out;
}

at::Tensor LayerCache::prompt_keys_by_head() const {
  KV_CHECK(uniform_, "internal error: prompt_keys_by_head on a ragged cache");
  return keys_.view({num_heads(), -1, keys_.size(1)});
}

at::Tensor LayerCache::prompt_values_by_head() const {
  KV_CHECK(uniform_, "internal error: prompt_values_by_head on a ragged cache");
  return values_.view({num_heads(), -1, values_.size(1)});
}

void LayerCache::reserve_tail(std::int64_t capacity) {
  const std::int64_t H = num_heads(), d = keys_.size(1);
  if (tail_keys_.defined() && tail_keys_.size(1) >= capacity) return;
  at::Tensor k = at::empty({H, capacity, d}, keys_.options());
  at::Tensor v = at::empty({H, capacity, d}, values_.options());
  if (tail_len_ > 0) {
    k.narrow(1, 0, tail_len_).copy_(tail_keys());
    v.narrow(1, 0, tail_len_).copy_(tail_values());
  }
  tail_keys_ = k;
  tail_values_ = v;
}

void LayerCache::append(const at::Tensor& k, const at::Tensor& v) {
  if (!tail_keys_.defined() || tail_len_ == tail_keys_.size(1)) reserve_tail(std::max<std::int64_t>(16, 2 * tail_len_));
  const std::int64_t group = num_heads() / k.size(0);  // a per-query-head cache repeats each KV head's entry
  tail_keys_.select(1, tail_len_).view({k.size(0), group, -1}).copy_(k.unsqueeze(1));
  tail_values_.select(1, tail_len_).view({v.size(0), group, -1}).copy_(v.unsqueeze(1));
  ++tail_len_;
}

void LayerCache::set_tail(const at::Tensor& k, const at::Tensor& v) {
  const std::int64_t t = k.size(1);
  tail_len_ = 0;
  tail_keys_ = at::Tensor();
  tail_values_ = at::Tensor();
  reserve_tail(std::max<std::int64_t>(16, t));
  tail_keys_.narrow(1, 0, t).copy_(k);
  tail_values_.narrow(1, 0, t).copy_(v);
  tail_len_ = t;
}

std::int64_t LayerCache::bytes_used() const {
  const std::int64_t d = keys_.size(1), elem = keys_.element_size();
  return 2 * (keys_.size(0) + num_heads() * tail_len_) * d * elem;
}

std::int64_t LayerCache::bytes_allocated() const {
  std::int64_t b = keys_.nbytes() + values_.nbytes();
  if (tail_keys_.defined()) b += tail_keys_.nbytes() + tail_values_.nbytes();
  return b;
}

std::int64_t KvCache::bytes_used() const {
  std::int64_t b = 0;
  for (const auto& l : layers) b += l.bytes_used();
  return b;
}

}  // namespace kvbench
