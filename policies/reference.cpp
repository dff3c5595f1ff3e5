#include "policies/reference.h"

#include <string>

#include "harness/common/error.h"

namespace kvbench {

ReferenceKind policy_reference(const PolicySpec& spec, std::initializer_list<ReferenceKind> implemented) {
  const auto reference = parse_kind<ReferenceKind>(spec.reference);
  std::string known;
  for (ReferenceKind r : implemented) {
    if (r == reference) return reference;
    known += std::string(known.empty() ? "" : ", ") + kind_name(r);
  }
  fail("policy '", spec.name, "' has no ", spec.reference, " implementation (references: ", known, ")");
}

GranularityKind reference_granularity(ReferenceKind reference) {
  const bool kv_head = reference == ReferenceKind::kKvbench || reference == ReferenceKind::kKvpress;
  return kv_head ? GranularityKind::kKvHead : GranularityKind::kQueryHead;
}

CompositionConfig reference_defaults(ReferenceKind reference) {
  CompositionConfig c;
  c.reference = kind_name(reference);
  c.score.granularity = reference_granularity(reference);
  switch (reference) {
    case ReferenceKind::kKvbench: break;
    case ReferenceKind::kKvpress:  // SnapKVPress: window_size 64, kernel_size 5 (avg_pool1d), window padded max + 1
      c.score.window = 64;
      c.score.kernel = 5;
      c.score.pool = PoolKind::kAvg;
      c.score.query_reduction = QueryReductionKind::kMean;
      c.keep_window = false;
      break;
    case ReferenceKind::kKvcacheFactory:  // run_longbench.py: window_sizes 8, kernel_sizes 7, pooling maxpool
      c.score.window = 8;
      break;
    case ReferenceKind::kAdakv:  // c*_w32_k7_maxpool.json; its clusters average the window's attention
      c.score.query_reduction = QueryReductionKind::kMean;
      break;
    case ReferenceKind::kSnapkv:  // ablation_c*_w32_k7_maxpool.json
      break;
  }
  return c;
}

CompositionConfig reference_defaults(const PolicySpec& spec, std::initializer_list<ReferenceKind> implemented) {
  return reference_defaults(policy_reference(spec, implemented));
}

CompositionConfig windowless_press_defaults(const PolicySpec& spec, ScorerKind scorer) {
  const ReferenceKind reference = policy_reference(spec, {ReferenceKind::kKvbench, ReferenceKind::kKvpress});
  CompositionConfig c = reference_defaults(reference);
  c.scorer = scorer;
  c.score.kernel = 1;
  if (reference == ReferenceKind::kKvpress) c.score.window = 0;
  return c;
}

}  // namespace kvbench
