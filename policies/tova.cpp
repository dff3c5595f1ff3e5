// tova: the last prompt query's attention averaged over all heads of the layer; one shared selection. kvpress
// keeps only the last position beside it (window 1).
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_tova_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  const R reference = policy_reference(spec, {R::kKvbench, R::kKvpress});
  CompositionConfig c = reference_defaults(reference);
  c.scorer = ScorerKind::kTova;
  c.score.kernel = 1;
  if (reference == R::kKvpress) c.score.window = 1;
  return make_preset(spec, c);
}
}  // namespace kvbench
