// streaming (StreamingLLM): keep the first `sinks` positions (attention sinks) and the most recent
// budget - sinks; the same positions for every layer and head. Nothing is evicted when T <= budget. Every
// reference keeps 4 sinks (KVCache-Factory's run_longbench.py: window = budget - 4 after budget - window first
// positions); KVCache-Factory and Ada-KV store the cache per query head.
#include "harness/common/error.h"
#include "policies/reference.h"

namespace kvbench {
namespace {

class StreamingPolicy final : public EvictionPolicy {
 public:
  StreamingPolicy(BudgetSpec budget, std::int64_t sinks, GranularityKind granularity)
      : budget_(budget), sinks_(sinks), granularity_(granularity) {}

  std::string describe() const override {
    return "streaming(budget=" + budget_.describe() + ", sinks=" + std::to_string(sinks_) +
           (per_query_head() ? ", granularity=query_head)" : ")");
  }

  void begin_sequence(const SequenceInfo& info) override {
    SequenceInfo cache = info;
    heads_ = cache.num_kv_heads = per_query_head() ? info.num_heads : info.num_kv_heads;
    resolved_ = budget_.resolve(cache);
  }
  std::int64_t resolved_budget() const override { return resolved_; }
  std::string granularity() const override { return kind_name(granularity_); }

  KeptPositions select(const LayerView& layer) override {
    const std::int64_t T = layer.prompt_len(), H = heads_, B = resolved_;
    if (T <= B) return KeptPositions::all(H, T, layer.keys.device());
    const std::int64_t sinks = std::min(sinks_, B - 1);  // a budget of at least one recent token
    const auto opts = at::TensorOptions().dtype(at::kLong).device(layer.keys.device());
    const at::Tensor kept = at::cat({at::arange(sinks, opts), at::arange(T - (B - sinks), T, opts)});
    return KeptPositions::uniform(kept.unsqueeze(0).expand({H, kept.numel()}));
  }

 private:
  bool per_query_head() const { return granularity_ == GranularityKind::kQueryHead; }

  BudgetSpec budget_;
  std::int64_t sinks_;
  GranularityKind granularity_;
  std::int64_t resolved_ = 0, heads_ = 0;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_streaming_policy(const PolicySpec& spec) {
  using R = ReferenceKind;
  const R reference = policy_reference(spec, {R::kKvbench, R::kKvpress, R::kKvcacheFactory, R::kAdakv});
  PolicyParams params(spec);
  const BudgetSpec budget = params.required_budget();
  const std::int64_t sinks = params.get_int("sinks", 4);
  const auto granularity =
      parse_kind<GranularityKind>(params.get_string("granularity", kind_name(reference_granularity(reference))));
  params.finish();
  KV_CHECK(sinks >= 0, "policy 'streaming': sinks must be >= 0, got ", sinks);
  const bool counted = budget.kind == BudgetSpec::Kind::kTokens || budget.kind == BudgetSpec::Kind::kMaxCapacityPrompt;
  KV_CHECK(!counted || sinks < budget.value, "policy 'streaming': sinks (", sinks,
           ") must be less than the budget (", budget.describe(), ")");
  return std::make_unique<StreamingPolicy>(budget, sinks, granularity);
}

}  // namespace kvbench
