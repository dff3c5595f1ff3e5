// random: uniform random scores (seeded by the spec's seed and the layer), top-k plus the window.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_random_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kRandom;
  c.score.kernel = 1;
  c.score.seed = spec.seed;
  return make_preset(spec, c);
}
}  // namespace kvbench
