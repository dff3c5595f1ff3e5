// criticaladakv (CriticalAdaKV, Feng et al. 2025; kvpress CriticalAdaKVPress around SnapKV): Ada-KV's head
// budgets from the SnapKV scores (alpha = 0.2), then CriticalKV's two stages within each head. Heads are ragged.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_criticaladakv_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.critical = true;
  c.head_allocator = HeadAllocatorKind::kAda;
  return make_preset(spec, c);
}
}  // namespace kvbench
