// lagkv (LagKV, arXiv 2504.04704; kvpress LagKVPress): attention-free; partitions of 128 after 4 sinks, each
// min-max normalized by the next one, ranked by the spread of its normalized keys and values. No pooling.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_lagkv_policy(const PolicySpec& spec) {
  return make_preset(spec, windowless_press_defaults(spec, ScorerKind::kLagkv));
}
}  // namespace kvbench
