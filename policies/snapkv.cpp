// snapkv: observation-window attention scores (w=32, maxpool 7, mean over the GQA group), uniform budgets,
// top-k per head. Every reference implements it; each brings its own window, pooling and granularity.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_snapkv_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  return make_preset(spec, reference_defaults(spec, {R::kKvbench, R::kKvpress, R::kKvcacheFactory, R::kAdakv, R::kSnapkv}));
}
}  // namespace kvbench
