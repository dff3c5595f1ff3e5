#include "harness/engine/decode_pool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "harness/common/error.h"

namespace kvbench {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

/// What the host knows of the sequence in a slot.
struct DecodePool::Slot {
  std::uint64_t tag = 0;
  GenerateOptions options;
  at::Tensor stop_ids;               // int64 on the device: masked while fewer than min_new_tokens ids exist
  std::int64_t produced = 0;         // ids generated on the device
  std::vector<std::int64_t> ids;     // those the host has read
  Clock::time_point admitted;
  std::int64_t steps = 0;
  double sharing = 0;                // sum over its steps of the sequences in flight
};

DecodePool::DecodePool(const Transformer& model, const RaggedShape& capacity, bool graphs)
    : decoder_(model, capacity, graphs), device_(model.device()) {
  const std::int64_t B = capacity.batch;
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device_);
  interval_ = device_.is_cuda() ? 16 : 1;
  history_ = at::zeros({B, capacity.tail_slots + 1}, longs);
  column_ = at::zeros({B}, longs);
  alive_ = at::zeros({B}, longs);
  previous_ = at::zeros({B}, longs);
  slots_.resize(static_cast<std::size_t>(B));
}

DecodePool::~DecodePool() = default;

bool DecodePool::fits(const KvCache& cache, std::int64_t max_new) const {
  if (cache.layers.empty()) return false;
  RaggedShape need = RaggedShape::of({&cache}, max_new);
  need.batch = capacity().batch;
  return need.fits_in(capacity()) && decoder_.rope_fits(cache.prompt_len);
}

std::int64_t DecodePool::free_slots() const {
  return std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return s == nullptr; });
}

at::Tensor DecodePool::first_token(const at::Tensor& logits, const Slot& s) const {
  at::Tensor row = logits.to(device_).reshape({1, -1}).to(at::kFloat);
  if (s.options.min_new_tokens > 0 && s.stop_ids.numel() > 0)
    row = row.index_fill(1, s.stop_ids, -std::numeric_limits<float>::infinity());
  return row.argmax(1);  // [1]
}

void DecodePool::admit(PoolSequence s) {
  const GenerateOptions& o = s.options;
  KV_CHECK(s.cache != nullptr && o.max_new_tokens >= 0 && o.min_new_tokens >= 0 && o.min_new_tokens <= o.max_new_tokens,
           "internal error: a pool sequence without a cache or with bad token counts");
  if (o.max_new_tokens == 0) {  // nothing to generate: it ends here, without a slot
    PoolResult r{s.tag, {}};
    r.result.stop_reason = "max_new_tokens";
    done_.push_back(std::move(r));
    return;
  }
  KV_CHECK(fits(*s.cache, o.max_new_tokens), "internal error: a sequence admitted to a pool too small for it");
  const auto free = std::find(slots_.begin(), slots_.end(), nullptr);
  KV_CHECK(free != slots_.end(), "internal error: a sequence admitted to a full pool");
  const std::int64_t b = free - slots_.begin();
  auto slot = std::make_unique<Slot>();
  slot->tag = s.tag;
  slot->options = o;
  slot->stop_ids = at::tensor(o.stop_ids.empty() ? std::vector<std::int64_t>{} : o.stop_ids, at::kLong).to(device_);
  slot->admitted = Clock::now();
  const at::Tensor first = first_token(s.first_logits, *slot);
  *free = std::move(slot);
  decoder_.bind_slot(b, *s.cache);
  previous_.narrow(0, b, 1).copy_(first);
  history_[b].narrow(0, 0, 1).copy_(first);
  column_.narrow(0, b, 1).fill_(1);
  alive_.narrow(0, b, 1).fill_(1);
  slots_[static_cast<std::size_t>(b)]->produced = 1;
}

void DecodePool::finish(std::int64_t b, std::int64_t length, const char* reason) {
  Slot& s = *slots_[static_cast<std::size_t>(b)];
  PoolResult r{s.tag, {}};
  r.result.output_ids.assign(s.ids.begin(), s.ids.begin() + length);
  r.result.stop_reason = reason;
  r.result.decode_seconds = std::chrono::duration<double>(Clock::now() - s.admitted).count();
  r.result.decode_steps = s.steps;
  r.result.batch_size = s.steps > 0 ? std::max<std::int64_t>(1, std::llround(s.sharing / static_cast<double>(s.steps))) : 1;
  r.result.decode_path = decoder_.graphs() ? "graph" : "ragged";
  done_.push_back(std::move(r));
  decoder_.park_slot(b);
  alive_.narrow(0, b, 1).fill_(0);
  column_.narrow(0, b, 1).fill_(0);
  slots_[static_cast<std::size_t>(b)].reset();
}

void DecodePool::scan() {
  unscanned_steps_ = 0;
  if (free_slots() == capacity().batch) return;
  const at::Tensor host = history_.to(at::kCPU).contiguous();
  const std::int64_t width = host.size(1);
  const std::int64_t* p = host.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < capacity().batch; ++b) {
    Slot* s = slots_[static_cast<std::size_t>(b)].get();
    if (s == nullptr) continue;
    const std::vector<std::int64_t>& stops = s->options.stop_ids;
    bool stopped = false;
    for (std::int64_t i = static_cast<std::int64_t>(s->ids.size()); i < s->produced; ++i) {
      const std::int64_t id = p[b * width + i];
      s->ids.push_back(id);
      // choose() masks stop ids before min_new_tokens, so any stop id seen here ends the sequence.
      if (std::find(stops.begin(), stops.end(), id) != stops.end()) {
        finish(b, i + 1, "stop_token");  // frees *s (and `stops`): leave the loop before reading them again
        stopped = true;
        break;
      }
    }
    if (!stopped && s->produced >= s->options.max_new_tokens) finish(b, s->options.max_new_tokens, "max_new_tokens");
  }
}

std::vector<PoolResult> DecodePool::run_until_finished() {
  while (true) {
    bool full = unscanned_steps_ >= interval_;  // a sequence at its max new tokens must not step again
    for (const auto& s : slots_) full = full || (s != nullptr && s->produced >= s->options.max_new_tokens);
    if (full || !done_.empty()) scan();
    if (!done_.empty()) return std::exchange(done_, {});
    const std::int64_t live = capacity().batch - free_slots();
    if (live == 0) return {};
    const at::Tensor logits = decoder_.step(previous_);
    for (std::int64_t b = 0; b < capacity().batch; ++b) {
      const Slot* s = slots_[static_cast<std::size_t>(b)].get();
      if (s != nullptr && s->produced < s->options.min_new_tokens && s->stop_ids.numel() > 0)
        logits[b].index_fill_(0, s->stop_ids, -std::numeric_limits<float>::infinity());
    }
    const at::Tensor next = logits.argmax(1);
    previous_.copy_(next);
    history_.scatter_(1, column_.unsqueeze(1), next.unsqueeze(1));
    column_.add_(alive_);
    for (auto& s : slots_) {
      if (s == nullptr) continue;
      ++s->produced;
      ++s->steps;
      s->sharing += static_cast<double>(live);
    }
    ++unscanned_steps_;
  }
}

}  // namespace kvbench
