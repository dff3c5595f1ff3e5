// adakv (Ada-SnapKV): SnapKV scores; each layer's budget is split over its heads by their share of the layer's
// global top-k (safeguard alpha = 0.2). Heads become ragged. The Ada-KV repository and KVCache-Factory round each
// head's (1 - alpha) c + int(alpha b) to nearest (KVCache-Factory normalizing the scores first); kvpress keeps
// each head's top int(alpha n_kept) and fills the rest with one top-k over the layer.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_adakv_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  const auto implemented = {R::kKvbench, R::kKvpress, R::kKvcacheFactory, R::kAdakv};
  const R reference = policy_reference(spec, implemented);
  CompositionConfig c = reference_defaults(reference);
  c.head_allocator = reference == R::kKvpress ? HeadAllocatorKind::kAdaKvpress : HeadAllocatorKind::kAda;
  if (reference == R::kKvcacheFactory || reference == R::kAdakv) c.ada.rounding = AdaRoundingKind::kNearest;
  if (reference == R::kKvcacheFactory) {  // AdaKVCluster: normalize=True, and it averages the window's attention
    c.ada.normalize = true;
    c.score.query_reduction = QueryReductionKind::kMean;
  }
  return make_preset(spec, c);
}
}  // namespace kvbench
