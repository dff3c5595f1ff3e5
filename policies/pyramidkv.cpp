// pyramidkv: SnapKV scores with PyramidKV's layer schedule (more tokens in lower layers, beta = 20): the integer
// schedule of PyramidKV's code (kvbench, Ada-KV), with KVCache-Factory's uniform fallback below 2 (B - w), or
// kvpress's floating-point schedule and its SnapKV fallback.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_pyramidkv_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  CompositionConfig c = reference_defaults(spec, {R::kKvbench, R::kKvpress, R::kKvcacheFactory, R::kAdakv});
  const R reference = policy_reference(spec, {R::kKvbench, R::kKvpress, R::kKvcacheFactory, R::kAdakv});
  c.layer_allocator = reference == R::kKvpress ? LayerAllocatorKind::kPyramidKvpress : LayerAllocatorKind::kPyramid;
  c.pyramid_fallback = reference == R::kKvcacheFactory;
  return make_preset(spec, c);
}
}  // namespace kvbench
