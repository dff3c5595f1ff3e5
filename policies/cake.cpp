// cake: layer budgets proportional to each layer's preference entropy^(1/tau1) * variance^(1/tau2) over the
// window attention (total L * B), tokens scored by mean + gamma * variance (gamma = 200), avgpool 5.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_cake_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kCake;
  c.layer_allocator = LayerAllocatorKind::kCake;
  c.score.kernel = 5;
  c.score.pool = PoolKind::kAvg;
  return make_preset(spec, c);
}
}  // namespace kvbench
