// kvzip (KVzip, Kim et al. 2025, "Query-Agnostic KV Cache Compression with Context Reconstruction"; kvpress
// KVzipPress): a KV pair scores the largest attention that any query of a teacher-forced repetition of the
// prompt pays it (max over those queries and the group), so what the model needs to rebuild the context stays.
// The engine runs that repetition as a second prefill (PolicyInputs::reconstruction). No pooling, no sinks
// (kvpress keeps 4: n_sink), uniform budgets; query chunks of 512, as the pass's keys are about twice the
// prompt's, so a chunk's attention matrix is the size of h2o's with its 1024.
#include "policies/composed_policy.h"

namespace kvbench {
std::unique_ptr<EvictionPolicy> make_kvzip_policy(const PolicySpec& spec) {
  CompositionConfig c;
  c.scorer = ScorerKind::kKvzip;
  c.score.kernel = 1;
  c.score.reduction = ReductionKind::kMax;
  c.score.n_sink = 0;
  c.score.h2o_query_chunk = 512;
  return make_preset(spec, c);
}
}  // namespace kvbench
