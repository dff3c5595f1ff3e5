#include "harness/model/layers.h"

#include "harness/common/error.h"
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
      activation_(activation) {}

at::Tensor ExpertMlp::forward(const at::Tensor& x) const {
  const std::int64_t E = router_.size(0), k = top_k_;
  // Routing as transformers: softmax in float32 over all experts, the top k, optionally renormalised, then the
  // weights in the model dtype.
  const at::Tensor probs = at::softmax(at::matmul(x, router_.t()), -1, at::kFloat);
  auto [weights, experts] = probs.topk(k, -1);
  if (normalize_) weights = weights / weights.sum(-1, /*keepdim=*/true);
  weights = weights.to(x.scalar_type());
  // Group the (token, expert) pairs by expert: one stable sort, one read of the counts.
  const at::Tensor flat = experts.reshape(-1);
  const at::Tensor order = std::get<1>(at::sort(flat, c10::optional<bool>(true), /*dim=*/0));  // stable
  const at::Tensor token = order.div(k, "floor");
  const at::Tensor pair_weight = weights.reshape(-1).index_select(0, order).unsqueeze(1);
  const at::Tensor counts = at::bincount(flat, {}, E).to(at::kCPU);
  const std::int64_t* count = counts.data_ptr<std::int64_t>();
  const at::Tensor xs = x.index_select(0, token);
  at::Tensor ys = at::empty_like(xs);
  std::int64_t offset = 0;
  for (std::int64_t e = 0; e < E; ++e) {
    const std::int64_t c = count[e];
    if (c == 0) continue;
    const at::Tensor h = gated_activation(at::matmul(xs.narrow(0, offset, c), gate_up_[e].t()), activation_);
    ys.narrow(0, offset, c).copy_(at::matmul(h, down_[e].t()) * pair_weight.narrow(0, offset, c));
    offset += c;
  }
  // Each token's experts are added in ascending expert order, as transformers' index_add_ per expert does.
  return at::zeros_like(x).index_add_(0, token, ys);
}

std::int64_t ExpertMlp::parameter_count() const { return elements(router_) + elements(gate_up_) + elements(down_); }

}  // namespace kvbench
