// snapkv: observation-window attention scores (w=32, maxpool 7, mean over the GQA group), uniform budgets,
// top-k per head.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_snapkv_policy(const PolicySpec& spec) { return make_preset(spec, {}); }
}  // namespace kvbench
