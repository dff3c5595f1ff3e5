// knorm: keep the keys of smallest L2 norm. kvpress and KVCache-Factory keep no window; KVCache-Factory's
// L2NormCluster leaves layers 0 and 1 uncompressed.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_knorm_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  const R reference = policy_reference(spec, {R::kKvbench, R::kKvpress, R::kKvcacheFactory});
  CompositionConfig c = reference_defaults(reference);
  c.scorer = ScorerKind::kKnorm;
  c.score.kernel = 1;
  if (reference != R::kKvbench) c.score.window = 0;
  if (reference == R::kKvcacheFactory) c.skip_layers = {0, 1};
  return make_preset(spec, c);
}
}  // namespace kvbench
