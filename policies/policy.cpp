#include "policies/policy.h"

#include "harness/common/error.h"

namespace kvbench {

KeptPositions KeptPositions::all(std::int64_t num_heads, std::int64_t prompt_len, at::Device device) {
  KeptPositions k;
  k.indices = at::arange(prompt_len, at::TensorOptions().dtype(at::kLong).device(device)).repeat({num_heads});
  for (std::int64_t h = 0; h <= num_heads; ++h) k.offsets.push_back(h * prompt_len);
  k.everything = true;
  return k;
}

KeptPositions KeptPositions::uniform(const at::Tensor& per_head) {
  KV_CHECK(per_head.dim() == 2, "KeptPositions::uniform expects [heads, count], got ", per_head.sizes());
  KeptPositions k;
  k.indices = per_head.to(at::kLong).reshape({-1}).contiguous();
  const std::int64_t n = per_head.size(1);
  for (std::int64_t h = 0; h <= per_head.size(0); ++h) k.offsets.push_back(h * n);
  return k;
}

KeptPositions KeptPositions::ragged(const std::vector<at::Tensor>& per_head) {
  KV_CHECK(!per_head.empty(), "KeptPositions::ragged needs at least one head");
  KeptPositions k;
  k.offsets.push_back(0);
  std::vector<at::Tensor> flat;
  for (const auto& t : per_head) {
    k.offsets.push_back(k.offsets.back() + t.numel());
    flat.push_back(t.to(at::kLong).reshape({-1}));
  }
  k.indices = at::cat(flat).contiguous();
  return k;
}

bool KeptPositions::is_uniform() const {
  for (std::int64_t h = 1; h < num_heads(); ++h)
    if (count(h) != count(0)) return false;
  return true;
}

}  // namespace kvbench
