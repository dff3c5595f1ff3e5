// keydiff (KeyDiff, Park et al. 2025; kvpress KeyDiffPress): attention-free; keep the keys least similar
// (cosine) to the mean of the head's normalized keys. No pooling.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_keydiff_policy(const PolicySpec& spec) {
  return make_preset(spec, windowless_press_defaults(spec, ScorerKind::kKeydiff));
}
}  // namespace kvbench
