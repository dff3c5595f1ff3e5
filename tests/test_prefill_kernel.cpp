// kvbench's one-pass prefill attention kernel (soft-cap and window) against the chunked path computed in float
// from the same inputs. Runs where a CUDA device and this build's kernels are there; skips elsewhere (CI).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness/device/ops.h"
#include "harness/engine/attention.h"

namespace kvbench {
namespace {

struct KernelCase {
  std::int64_t d, tokens, hq, hkv, window;
  double softcap;
  at::ScalarType dtype;
};

std::string name_of(const KernelCase& c) {
  return "d=" + std::to_string(c.d) + " T=" + std::to_string(c.tokens) + " hq=" + std::to_string(c.hq) +
         " hkv=" + std::to_string(c.hkv) + " window=" + std::to_string(c.window) +
         " softcap=" + std::to_string(c.softcap) + (c.dtype == at::kHalf ? " f16" : " bf16");
}

// Edges the tiles of 64 must get right: fewer tokens than a tile, ragged last tiles, windows shorter than a tile
// and spanning several, GQA groups, every head dim, both half types; q token-major as the engine stores it.
TEST(PrefillAttentionKernel, MatchesTheChunkedPathInFloat) {
  if (!at::hasCUDA() || !ops::cuda_kernels_built()) GTEST_SKIP() << "needs a CUDA device and kvbench's CUDA kernels";
  const at::Tensor probe = at::empty({1}, at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16));
  if (!ops::prefill_attention_supported(probe, 128)) GTEST_SKIP() << "the kernels do not run on this GPU";
  std::vector<KernelCase> cases;
  for (std::int64_t d : {64, 128, 256})
    for (std::int64_t T : {1, 37, 64, 200, 1000})
      for (std::int64_t window : {0, 17, 100})
        for (double softcap : {0.0, 30.0}) cases.push_back({d, T, 8, d == 256 ? 8 : 2, window, softcap, at::kBFloat16});
  cases.push_back({128, 777, 4, 4, 0, 50.0, at::kHalf});
  cases.push_back({256, 4100, 16, 8, 4096, 50.0, at::kBFloat16});
  cases.push_back({256, 4100, 16, 8, 0, 50.0, at::kBFloat16});
  at::manual_seed(7);
  for (const KernelCase& c : cases) {
    SCOPED_TRACE(name_of(c));
    const auto opts = at::TensorOptions().device(at::kCUDA).dtype(c.dtype);
    // q token-major [T, hq, d] seen as [hq, T, d]; k and v head-major [hkv, T, d].
    const at::Tensor q = at::randn({c.tokens, c.hq, c.d}, opts).transpose(0, 1);
    const at::Tensor k = at::randn({c.hkv, c.tokens, c.d}, opts), v = at::randn({c.hkv, c.tokens, c.d}, opts);
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
    const at::Tensor got = ops::prefill_attention(q, k, v, scale, c.softcap, c.window).to(at::kFloat);
    AttentionSpec spec;
    spec.scale = scale;
    spec.softcap = c.softcap;
    spec.window = c.window;
    const at::Tensor want = prefill_attention(q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat), spec, 256);
    ASSERT_EQ(got.sizes(), want.sizes());
    // Rounding: P to the half type before the product with V, the output to it once.
    const double err = (got - want).abs().max().item<double>(), mag = want.abs().max().item<double>();
    EXPECT_LE(err, 0.02 * mag + 0.01) << "max |kernel - float| " << err << ", max |float| " << mag;
    EXPECT_FALSE(got.isnan().any().item<bool>());
  }
}

}  // namespace
}  // namespace kvbench
