// compose: any combination of the parts, named in the config, over any reference's defaults, e.g.
//   {"name": "compose", "budget": 256, "params": {"scorer": "h2o", "head_allocator": "ada", "selector": "kvec"}}
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_compose_policy(const PolicySpec& spec) {
  return make_preset(spec, reference_defaults(parse_kind<ReferenceKind>(spec.reference)));
}
}  // namespace kvbench
