// expected_attention (Expected Attention, Devoto et al. 2025; kvpress ExpectedAttentionPress): the attention
// that future queries are expected to pay, with the queries modelled as a Gaussian fitted to the pre-RoPE
// prompt queries after 4 sinks and RoPE averaged over the next 512 positions; times ||v||. No pooling.
#include "policies/reference.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_expected_attention_policy(const PolicySpec& spec) {
  return make_preset(spec, windowless_press_defaults(spec, ScorerKind::kExpectedAttention));
}
}  // namespace kvbench
