// full: no eviction; the reference every other policy is measured against.
#include "policies/reference.h"

namespace kvbench {
namespace {

class FullCache final : public EvictionPolicy {
 public:
  std::string describe() const override { return "full"; }
  KeptPositions select(const LayerView& layer) override {
    return KeptPositions::all(layer.num_kv_heads(), layer.prompt_len(), layer.keys.device());
  }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_full_policy(const PolicySpec& spec) {
  parse_kind<ReferenceKind>(spec.reference);  // every code base keeps the full cache alike
  PolicyParams params(spec);
  params.finish();  // full takes no parameters; a budget, if given by a sweep, is irrelevant to it
  return std::make_unique<FullCache>();
}

}  // namespace kvbench
