// pyramidkv: SnapKV scores with PyramidKV's layer schedule (more tokens in lower layers, beta = 20).
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_pyramidkv_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.layer_allocator = LayerAllocatorKind::kPyramid;
  return make_preset(spec, c);
}
}  // namespace kvbench
