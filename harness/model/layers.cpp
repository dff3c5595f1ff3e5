#include "harness/model/layers.h"

#include "harness/common/error.h"
#include "harness/common/system.h"
#include "harness/device/named_op.h"
#include "harness/device/ops.h"

namespace kvbench {
namespace {
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  return bias.defined() ? at::addmm(bias, x, weight.t()) : at::matmul(x, weight.t());
}

ops::GateActivation gate_activation(Activation a) {
  switch (a) {
    case Activation::kSilu: return ops::GateActivation::kSilu;
    case Activation::kGeluTanh: return ops::GateActivation::kGeluTanh;
    case Activation::kGelu: return ops::GateActivation::kGelu;
  }
  return ops::GateActivation::kSilu;
}

std::int64_t elements(const at::Tensor& t) { return t.defined() ? t.numel() : 0; }

// KVBENCH_EXPERT_MM=loop sends experts to one matrix product per expert instead of the fused grouped kernel.
bool expert_loop_forced() {
  static const bool loop = system::env_choice("KVBENCH_EXPERT_MM", {"grouped", "loop"}) == "loop";
  return loop;
}

// libtorch's aten::_grouped_mm (2.8 and later). Its fused kernel (bf16, compute capability 9.x or 10.x) takes the
// group ends on the device; elsewhere libtorch itself loops with a host read, so kvbench keeps its own loop there.
const NamedOp& grouped_mm_op() {
  static const NamedOp op("aten::_grouped_mm", {"self", "mat2", "offs"});
  return op;
}

// Whether weights like `w` ([E, N, K], CUDA) run on the fused grouped kernel.
bool grouped_mm_fused_for(const at::Tensor& w) {
  if (!grouped_mm_op().available() || !w.is_cuda() || w.scalar_type() != at::kBFloat16 || w.dim() != 3) return false;
  const int major = ops::compute_capability(w.device()) / 10;
  // 16-byte aligned rows (the kernel's TMA loads).
  return (major == 9 || major == 10) && w.size(2) % 8 == 0 && w.size(1) % 8 == 0;
}
}  // namespace

at::Tensor RmsNorm::operator()(const at::Tensor& x) const {
  if (!weight.defined()) return x;
  if (x.dim() == 2) return ops::rms_norm(x, weight, eps, unit_offset);
  // Per-head norms (q/k norm): rows of the last dimension.
  const at::Tensor rows = x.reshape({-1, x.size(-1)});
  return ops::rms_norm(rows, weight, eps, unit_offset).view(x.sizes());
}

at::Tensor gated_activation(const at::Tensor& gate_up, Activation activation) {
  return ops::gated_activation(gate_up, gate_activation(activation));
}

GatedMlp::GatedMlp(at::Tensor gate_up_weight, at::Tensor gate_up_bias, at::Tensor down_weight, at::Tensor down_bias,
                   Activation activation)
    : gate_up_weight_(std::move(gate_up_weight)),
      gate_up_bias_(std::move(gate_up_bias)),
      down_weight_(std::move(down_weight)),
      down_bias_(std::move(down_bias)),
      activation_(activation) {}

at::Tensor GatedMlp::gated(const at::Tensor& x) const {
  return gated_activation(linear(x, gate_up_weight_, gate_up_bias_), activation_);
}

at::Tensor GatedMlp::forward(const at::Tensor& x) const { return linear(gated(x), down_weight_, down_bias_); }

void GatedMlp::add_forward_(const at::Tensor& out, const at::Tensor& x) const {
  if (down_bias_.defined()) out.add_(down_bias_);
  out.addmm_(gated(x), down_weight_.t());
}

std::int64_t GatedMlp::parameter_count() const {
  return elements(gate_up_weight_) + elements(gate_up_bias_) + elements(down_weight_) + elements(down_bias_);
}

ExpertMlp::ExpertMlp(at::Tensor router, at::Tensor gate_up, at::Tensor down, std::int64_t top_k, bool normalize,
                     Activation activation)
    : router_(std::move(router)),
      gate_up_(std::move(gate_up)),
      down_(std::move(down)),
      top_k_(top_k),
      normalize_(normalize),
      activation_(activation) {
  fused_grouped_mm_ = !expert_loop_forced() && grouped_mm_fused_for(gate_up_) && grouped_mm_fused_for(down_);
}

at::Tensor ExpertMlp::grouped_linear(const at::Tensor& a, const at::Tensor& weights, const at::Tensor& ends) const {
  if (fused_grouped_mm_) return grouped_mm_op().call({{"self", a}, {"mat2", weights.transpose(1, 2)}, {"offs", ends}});
  // One product per expert.
  const std::int64_t* end = ends.data_ptr<std::int64_t>();
  at::Tensor out = at::empty({a.size(0), weights.size(1)}, a.options());
  std::int64_t begin = 0;
  for (std::int64_t e = 0; e < weights.size(0); ++e) {
    if (end[e] > begin) {
      at::Tensor rows = out.narrow(0, begin, end[e] - begin);
      at::matmul_out(rows, a.narrow(0, begin, end[e] - begin), weights[e].t());
    }
    begin = end[e];
  }
  return out;
}

at::Tensor ExpertMlp::forward(const at::Tensor& x) const {
  const std::int64_t E = router_.size(0), k = top_k_, n = x.size(0);
  // Routing as transformers: softmax in float32 over all experts, the top k, optionally renormalised, then the
  // weights in the model dtype.
  const at::Tensor probs = at::softmax(at::matmul(x, router_.t()), -1, at::kFloat);
  auto [weights, experts] = probs.topk(k, -1);
  if (normalize_) weights = weights / weights.sum(-1, /*keepdim=*/true);
  weights = weights.to(x.scalar_type());
  // Each token's k experts in ascending order (the order transformers adds them in), then the pairs
  // p = token * k + slot grouped by expert with one stable sort; group e ends where the sorted ids pass e.
  auto [slot_experts, slot_order] = experts.sort(-1);
  weights = weights.gather(-1, slot_order);
  const at::Tensor flat = slot_experts.reshape(-1);
  auto [sorted, order] = at::sort(flat, c10::optional<bool>(true), /*dim=*/0);
  at::Tensor ends = at::searchsorted(sorted, at::arange(E, sorted.options()), /*out_int32=*/fused_grouped_mm_,
                                     /*right=*/true);
  if (!fused_grouped_mm_) ends = ends.to(at::kCPU);  // the per-expert products read them once, for both projections
  const at::Tensor xs = x.index_select(0, order.div(k, "floor"));
  const at::Tensor h = gated_activation(grouped_linear(xs, gate_up_, ends), activation_);
  const at::Tensor ys = grouped_linear(h, down_, ends) * weights.reshape({-1, 1}).index_select(0, order);
  // Back to (token, slot) order; the slots are summed in ascending expert order with a rounding after each
  // addition, as transformers' index_add_ per expert does (and deterministic, unlike atomic additions).
  const at::Tensor pairs = at::empty_like(ys).index_copy_(0, order, ys).view({n, k, -1});
  at::Tensor out = pairs.select(1, 0).clone();
  for (std::int64_t j = 1; j < k; ++j) out.add_(pairs.select(1, j));
  return out;
}

std::int64_t ExpertMlp::parameter_count() const { return elements(router_) + elements(gate_up_) + elements(down_); }

}  // namespace kvbench
