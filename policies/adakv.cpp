// adakv (Ada-SnapKV): SnapKV scores; each layer's budget is split over its KV heads by their share of the
// layer's global top-k (safeguard alpha = 0.2). Heads become ragged.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_adakv_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.head_allocator = HeadAllocatorKind::kAda;
  return make_preset(spec, c);
}
}  // namespace kvbench
