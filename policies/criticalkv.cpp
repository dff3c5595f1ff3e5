// criticalkv (CriticalKV, Feng et al. 2025; kvpress CriticalKVPress around SnapKVPress): SnapKV scores; half of
// each head's budget (window included) by those scores, the rest by (score + epsilon) x ||W_o v||_1, the value as
// the output projection writes it. Scores are the window's mean attention, as kvpress's SnapKV computes them, so
// that epsilon = 1e-4 weighs as it does there. Needs the layer's o_proj (LayerView::out_proj).
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_criticalkv_policy(const PolicySpec& spec) {
  CompositionConfig c = reference_defaults(spec, {ReferenceKind::kKvbench, ReferenceKind::kKvpress});
  c.critical = true;
  c.score.query_reduction = QueryReductionKind::kMean;
  return make_preset(spec, c);
}
}  // namespace kvbench
