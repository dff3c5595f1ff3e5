#include "harness/engine/in_flight.h"

#include <algorithm>

#include "harness/common/error.h"
#include "harness/device/fault.h"
#include "harness/device/memory.h"
#include "harness/engine/engine.h"

namespace kvbench {
namespace {
// Slots of one pool at most: a step over more sequences than this gains little (decode is then bound by the
// caches' reads, not the weights') and its graph and tails grow with it.
constexpr std::int64_t kMaxSlots = 256;

// Bytes of keys and values of `kept` entries per head over `heads` cache heads in `layers` layers (every layer
// unless told).
std::int64_t kv_bytes(const ModelConfig& c, std::int64_t element_bytes, std::int64_t kept, std::int64_t heads,
                      std::int64_t layers = -1) {
  return 2 * (layers < 0 ? c.num_layers : layers) * heads * kept * c.head_dim * element_bytes;
}
}  // namespace

std::int64_t in_flight_memory_budget(std::int64_t requested, at::Device device) {
  if (requested != 0) return requested;
  const auto free = available_memory(device);
  return free ? *free / 5 * 4 : 0;
}

SampleNeeds sample_needs(const ModelConfig& c, std::int64_t element_bytes, std::int64_t tokens,
                         const std::vector<SampleVariant>& variants, SlidingLayers sliding) {
  SampleNeeds needs;
  needs.bytes = prefill_activation_bytes(c, element_bytes, tokens) + kv_bytes(c, element_bytes, tokens, c.num_kv_heads);
  // In window mode a windowed layer keeps its last window - 1 positions whatever the budget (reserved_bytes), and
  // the budget applies to the others; in compress mode every layer is counted at the budget (a windowed one holds
  // at most that).
  const SequenceInfo info = policy_sequence_info(c, element_bytes, tokens, sliding);
  for (const SampleVariant& v : variants) {
    const std::unique_ptr<EvictionPolicy> policy = make_policy(v.spec);
    std::int64_t kept = tokens;
    try {
      policy->begin_sequence(info);
      if (policy->resolved_budget() > 0) kept = std::min(tokens, policy->resolved_budget());
    } catch (const std::exception&) {  // its prefill says why; count it as keeping everything
    }
    const std::int64_t heads = policy->granularity() == "query_head" ? c.num_heads : c.num_kv_heads;
    // A per-query-head cache holds the windows once per query head too.
    needs.bytes +=
        kv_bytes(c, element_bytes, kept, heads, info.num_layers) + info.reserved_bytes / c.num_kv_heads * heads;
    if (v.pooled) ++needs.sequences[heads];
  }
  return needs;
}

InFlightDecoder::InFlightDecoder(const Transformer& model, const InFlightPlan& plan)
    : model_(model), plan_(plan), element_bytes_(static_cast<std::int64_t>(c10::elementSize(model.dtype()))) {
  KV_CHECK(plan.samples >= 1 && plan.max_prompt >= 1 && plan.max_new >= 1, "internal error: an empty in-flight plan");
}

std::int64_t InFlightDecoder::slots(std::int64_t heads) const {
  const auto it = plan_.variants_per_heads.find(heads);
  const std::int64_t variants = it == plan_.variants_per_heads.end() ? 1 : std::max<std::int64_t>(1, it->second);
  std::int64_t slots = std::min(kMaxSlots, plan_.samples * variants);
  // The decode tails take at most half the budget (one sample's sequences always get theirs).
  if (plan_.memory_bytes > 0)
    slots = std::min(slots, plan_.memory_bytes / 2 / kv_bytes(model_.config(), element_bytes_, plan_.max_new, heads));
  return std::max(slots, std::min(variants, kMaxSlots));
}

DecodePool& InFlightDecoder::pool(std::int64_t heads) {
  auto& p = pools_[heads];
  if (!p) {
    RaggedShape shape;
    shape.batch = slots(heads);
    shape.heads = heads;
    shape.tail_slots = plan_.max_new;
    shape.max_entries = plan_.max_prompt + plan_.max_new;
    shape.max_position = plan_.max_prompt + plan_.max_new;
    p = std::make_unique<DecodePool>(model_, shape, plan_.graphs);
    tail_bytes_ += shape.batch * kv_bytes(model_.config(), element_bytes_, shape.tail_slots, heads);
  }
  return *p;
}

bool InFlightDecoder::can_start(const SampleNeeds& needs) const {
  std::int64_t new_tails = 0;
  for (const auto& [heads, n] : needs.sequences) {
    const auto it = pools_.find(heads);
    const std::int64_t free = it == pools_.end() ? slots(heads) : it->second->free_slots();
    if (n > free) return false;
    if (it == pools_.end()) new_tails += slots(heads) * kv_bytes(model_.config(), element_bytes_, plan_.max_new, heads);
  }
  if (in_flight() == 0 || plan_.memory_bytes <= 0) return true;
  return bytes_held() + new_tails + needs.bytes <= plan_.memory_bytes;
}

bool InFlightDecoder::fits(const KvCache& cache, std::int64_t max_new) {
  return !cache.layers.empty() && pool(cache.layers[0].num_heads()).fits(cache, max_new);
}

void InFlightDecoder::admit(PoolSequence s) {
  KV_CHECK(s.cache != nullptr && !s.cache->layers.empty() && !held_.count(s.tag),
           "internal error: a sequence admitted twice or without a cache");
  const std::int64_t bytes = s.cache->bytes_used();
  const std::uint64_t tag = s.tag;
  pool(s.cache->layers[0].num_heads()).admit(std::move(s));
  held_[tag] = bytes;
  cache_bytes_ += bytes;
}

std::vector<PoolResult> InFlightDecoder::run_until_finished() {
  // Round robin over the pools that hold sequences, so that neither waits for the other to empty.
  std::vector<DecodePool*> busy;
  for (auto& [heads, p] : pools_)
    if (p->in_flight() > 0) busy.push_back(p.get());
  if (busy.empty()) return {};
  fault_point("decode");
  std::rotate(busy.begin(), busy.begin() + static_cast<std::ptrdiff_t>(turn_++ % busy.size()), busy.end());
  for (DecodePool* p : busy) {
    std::vector<PoolResult> done = p->run_until_finished();
    if (done.empty()) continue;
    for (const PoolResult& r : done) {
      const auto it = held_.find(r.tag);
      if (it == held_.end()) continue;
      cache_bytes_ -= it->second;
      held_.erase(it);
    }
    return done;
  }
  return {};
}

std::int64_t InFlightDecoder::in_flight() const {
  std::int64_t n = 0;
  for (const auto& [heads, p] : pools_) n += p->in_flight();
  return n;
}

}  // namespace kvbench
