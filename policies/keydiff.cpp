// keydiff (KeyDiff, Park et al. 2025; kvpress KeyDiffPress): attention-free; keep the keys least similar
// (cosine) to the mean of the head's normalized keys. No pooling.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_keydiff_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kKeydiff;
  c.score.kernel = 1;
  return make_preset(spec, c);
}
}  // namespace kvbench
