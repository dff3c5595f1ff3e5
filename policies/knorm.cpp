// knorm: keep the keys of smallest L2 norm.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_knorm_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kKnorm;
  c.score.kernel = 1;
  return make_preset(spec, c);
}
}  // namespace kvbench
