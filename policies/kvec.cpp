// K-VEC (kvec.md): coverage-driven selection on top of SnapKV scores, and its ablations and allocators.
//   kvec           cross-head and cross-layer coverage modules
//   kvec-head      cross-head only          kvec-layer    cross-layer only
//   kvec+pyramid   on PyramidKV's layers    kvec+ada      on Ada-KV's heads
#include "policies/composed_policy.h"

namespace kvbench {
namespace {
CompositionConfig kvec_defaults() {
  CompositionConfig c;
  c.selector = SelectorKind::kKvec;
  return c;
}
}  // namespace

std::unique_ptr<EvictionPolicy> make_kvec_policy(const PolicySpec& spec) { return make_preset(spec, kvec_defaults()); }

std::unique_ptr<EvictionPolicy> make_kvec_head_policy(const PolicySpec& spec) {
  CompositionConfig c = kvec_defaults();
  c.kvec.cross_layer = false;
  return make_preset(spec, c);
}

std::unique_ptr<EvictionPolicy> make_kvec_layer_policy(const PolicySpec& spec) {
  CompositionConfig c = kvec_defaults();
  c.kvec.cross_head = false;
  return make_preset(spec, c);
}

std::unique_ptr<EvictionPolicy> make_kvec_pyramid_policy(const PolicySpec& spec) {
  CompositionConfig c = kvec_defaults();
  c.layer_allocator = LayerAllocatorKind::kPyramid;
  return make_preset(spec, c);
}

std::unique_ptr<EvictionPolicy> make_kvec_ada_policy(const PolicySpec& spec) {
  CompositionConfig c = kvec_defaults();
  c.head_allocator = HeadAllocatorKind::kAda;
  return make_preset(spec, c);
}
}  // namespace kvbench
