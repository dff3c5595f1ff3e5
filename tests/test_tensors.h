#pragma once
// Tensor helpers shared by the engine-level tests.

#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

namespace kvbench::test {

/// `n` token ids drawn uniformly from [3, vocab) with `seed` (ids 0-2 are left to special tokens).
inline std::vector<std::int64_t> random_ids(std::int64_t n, std::int64_t vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(3, vocab - 1);
  std::vector<std::int64_t> ids(n);
  for (auto& id : ids) id = dist(rng);
  return ids;
}

/// max |a - b|, computed in float64.
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace kvbench::test
