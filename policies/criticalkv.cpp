// criticalkv (CriticalKV, Feng et al. 2025; kvpress CriticalKVPress around SnapKV): SnapKV scores; half of each
// head's budget (window included) by those scores, the rest by score x ||W_o v||_1, the value as the output
// projection writes it. Needs the layer's o_proj (LayerView::out_proj).
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_criticalkv_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.critical = true;
  return make_preset(spec, c);
}
}  // namespace kvbench
