// tova: the last prompt query's attention averaged over all heads of the layer; one shared selection.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_tova_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kTova;
  c.score.kernel = 1;
  return make_preset(spec, c);
}
}  // namespace kvbench
