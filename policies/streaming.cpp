// streaming (StreamingLLM): keep the first `sinks` positions (attention sinks) and the most recent
// budget - sinks; the same positions for every layer and head. Nothing is evicted when T <= budget.
#include "harness/common/error.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

class StreamingPolicy final : public EvictionPolicy {
 public:
  StreamingPolicy(BudgetSpec budget, std::int64_t sinks) : budget_(budget), sinks_(sinks) {}

  std::string describe() const override {
    return "streaming(budget=" + budget_.describe() + ", sinks=" + std::to_string(sinks_) + ")";
  }

  void begin_sequence(const SequenceInfo& info) override { resolved_ = budget_.resolve(info); }
  std::int64_t resolved_budget() const override { return resolved_; }

  KeptPositions select(const LayerView& layer) override {
    const std::int64_t T = layer.prompt_len(), H = layer.num_kv_heads(), B = resolved_;
    if (T <= B) return KeptPositions::all(H, T, layer.keys.device());
    const std::int64_t sinks = std::min(sinks_, B - 1);  // a budget of at least one recent token
    const auto opts = at::TensorOptions().dtype(at::kLong).device(layer.keys.device());
    const at::Tensor kept = at::cat({at::arange(sinks, opts), at::arange(T - (B - sinks), T, opts)});
    return KeptPositions::uniform(kept.unsqueeze(0).expand({H, kept.numel()}));
  }

 private:
  BudgetSpec budget_;
  std::int64_t sinks_;
  std::int64_t resolved_ = 0;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_streaming_policy(const PolicySpec& spec) {
  PolicyParams params(spec);
  const BudgetSpec budget = params.required_budget();
  const std::int64_t sinks = params.get_int("sinks", 4);
  params.finish();
  KV_CHECK(sinks >= 0, "policy 'streaming': sinks must be >= 0, got ", sinks);
  KV_CHECK(budget.kind != BudgetSpec::Kind::kTokens || sinks < budget.value, "policy 'streaming': sinks (", sinks,
           ") must be less than the budget (", budget.describe(), ")");
  return std::make_unique<StreamingPolicy>(budget, sinks);
}

}  // namespace kvbench
