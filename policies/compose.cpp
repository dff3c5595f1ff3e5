// compose: any combination of the parts, named in the config, e.g.
//   {"name": "compose", "budget": 256, "params": {"scorer": "h2o", "head_allocator": "ada", "selector": "kvec"}}
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_compose_policy(const PolicySpec& spec) { return make_preset(spec, {}); }
}  // namespace kvbench
