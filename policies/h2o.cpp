// h2o (prefill form): column sums of the full causal attention over every prompt query (computed in query
// chunks, never the T x T matrix), reduced over the group, no pooling; top-k plus the window.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_h2o_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kH2o;
  c.score.kernel = 1;
  return make_preset(spec, c);
}
}  // namespace kvbench
