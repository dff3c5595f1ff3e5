// criticaladakv (CriticalAdaKV, Feng et al. 2025; kvpress CriticalAdaKVPress around SnapKVPress): Ada-KV's head
// budgets from the SnapKV scores (alpha = 0.2; kvpress: its safeguard and one top-k over the layer), then
// CriticalKV's two stages within each head. Heads are ragged. Window scores are means, as in criticalkv.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_criticaladakv_policy(const PolicySpec& spec) {
  const ReferenceKind reference = policy_reference(spec, {ReferenceKind::kKvbench, ReferenceKind::kKvpress});
  CompositionConfig c = reference_defaults(reference);
  c.critical = true;
  c.score.query_reduction = QueryReductionKind::kMean;
  c.head_allocator = reference == ReferenceKind::kKvpress ? HeadAllocatorKind::kAdaKvpress : HeadAllocatorKind::kAda;
  return make_preset(spec, c);
}
}  // namespace kvbench
