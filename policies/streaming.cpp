// streaming (StreamingLLM): keep the first `sinks` positions (attention sinks) and the most recent
// budget - sinks; the same positions for every layer and head. Nothing is evicted when T <= budget.
#include "harness/common/error.h"
#include "policies/registry.h"

namespace kvbench {
namespace {

class StreamingPolicy final : public EvictionPolicy {
 public:
  StreamingPolicy(std::int64_t budget, std::int64_t sinks) : budget_(budget), sinks_(sinks) {}

  std::string describe() const override {
    return "streaming(budget=" + std::to_string(budget_) + ", sinks=" + std::to_string(sinks_) + ")";
  }

  KeptPositions select(const LayerView& layer) override {
    const std::int64_t T = layer.prompt_len(), H = layer.num_kv_heads();
    if (T <= budget_) return KeptPositions::all(H, T, layer.keys.device());
    const auto opts = at::TensorOptions().dtype(at::kLong).device(layer.keys.device());
    const at::Tensor kept = at::cat({at::arange(sinks_, opts), at::arange(T - (budget_ - sinks_), T, opts)});
    return KeptPositions::uniform(kept.unsqueeze(0).expand({H, kept.numel()}));
  }

 private:
  std::int64_t budget_;
  std::int64_t sinks_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_streaming_policy(const PolicySpec& spec) {
  PolicyParams params(spec);
  const std::int64_t budget = params.required_budget();
  const std::int64_t sinks = params.get_int("sinks", 4);
  params.finish();
  KV_CHECK(sinks >= 0 && sinks < budget, "policy 'streaming': sinks (", sinks, ") must be in [0, budget=", budget, ")");
  return std::make_unique<StreamingPolicy>(budget, sinks);
}

}  // namespace kvbench
