// lagkv (LagKV, arXiv 2504.04704; kvpress LagKVPress): attention-free; partitions of 128 after 4 sinks, each
// min-max normalized by the next one, ranked by the spread of its normalized keys and values. No pooling.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_lagkv_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kLagkv;
  c.score.kernel = 1;
  return make_preset(spec, c);
}
}  // namespace kvbench
