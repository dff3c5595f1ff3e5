// h2o (prefill form): column sums of the full causal attention over every prompt query (computed in query
// chunks, never the T x T matrix), reduced over the group, no pooling; top-k plus the window. kvpress's
// ObservedAttentionPress divides each key's sum by the number of queries that see it and keeps no window.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_h2o_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  const R reference = policy_reference(spec, {R::kKvbench, R::kKvpress, R::kKvcacheFactory});
  CompositionConfig c = reference_defaults(reference);
  c.scorer = ScorerKind::kH2o;
  c.score.kernel = 1;
  if (reference == R::kKvpress) c.score.window = 0;
  return make_preset(spec, c);
}
}  // namespace kvbench
