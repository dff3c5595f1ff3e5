// Scorers: how important each evictable prompt position is to each KV head.
#include <cmath>
#include <limits>

#include "harness/common/error.h"
#include "policies/components.h"

namespace kvbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Softmax attention of queries [Hq, n, d] (prompt positions start .. start + n - 1) over keys [Hkv, T', d]
// with T' >= start + n, causal: float32 [Hkv, g, n, T']. Few passes over the big [.., n, T'] tensor: the
// scale rides in the GEMM, only the last T' - start columns can be in a query's future, and the softmax
// reads the model dtype and writes float32 directly.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, std::int64_t start, double scale) {
  const std::int64_t Hq = q.size(0), n = q.size(1), d = q.size(2), Hkv = k.size(0), g = Hq / Hkv, Tk = k.size(1);
  const at::Tensor logits = at::empty({Hkv, g * n, Tk}, q.options())
                               .baddbmm_(q.reshape({Hkv, g * n, d}), k.transpose(1, 2), /*beta=*/0, /*alpha=*/scale)
                               .view({Hkv, g, n, Tk});
  const auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
  const std::int64_t tail = Tk - start;  // key columns start .. Tk - 1
  const at::Tensor future = at::arange(start, Tk, opts).unsqueeze(0) > at::arange(start, start + n, opts).unsqueeze(1);
  logits.narrow(3, start, tail).masked_fill_(future, kNegInf);
  return at::softmax(logits, -1, at::kFloat);
}

std::int64_t evictable_of(const LayerView& view, std::int64_t window) { return view.prompt_len() - window; }

}  // namespace

at::Tensor window_attention(const LayerView& view, std::int64_t window) {
  KV_CHECK(view.queries.defined() && view.queries.size(1) >= window, "internal error: the window scorer needs the "
           "last ", window, " queries");
  const std::int64_t T = view.prompt_len(), Tq = view.queries.size(1);
  return causal_attention(view.queries.narrow(1, Tq - window, window), view.keys, T - window, view.scale);
}

at::Tensor reduce_group(const at::Tensor& x, ReductionKind reduction) {
  switch (reduction) {
    case ReductionKind::kMean: return x.mean(1);
    case ReductionKind::kMax: return std::get<0>(x.max(1));
    case ReductionKind::kSum: return x.sum(1);
  }
  fail("internal error: a reduction without a case");
}

at::Tensor reduce_group(const at::Tensor& x, const std::string& reduction) {
  return reduce_group(x, parse_kind<ReductionKind>(reduction));
}

at::Tensor pool_positions(const at::Tensor& scores, std::int64_t kernel, PoolKind pool) {
  if (kernel <= 1) return scores;
  KV_CHECK(kernel % 2 == 1, "pooling kernel must be odd, got ", kernel);
  const at::Tensor x = scores.unsqueeze(1);  // [H, 1, E]
  if (pool == PoolKind::kMax) return at::max_pool1d(x, {kernel}, {1}, {kernel / 2}).squeeze(1);
  return at::avg_pool1d(x, {kernel}, {1}, {kernel / 2}).squeeze(1);
}

at::Tensor pool_positions(const at::Tensor& scores, std::int64_t kernel, const std::string& pool) {
  return pool_positions(scores, kernel, parse_kind<PoolKind>(pool));
}

namespace {
// Column sums of the full causal attention, one chunk of queries at a time (never the T x T matrix).
at::Tensor h2o_column_sums(const LayerView& view, std::int64_t query_chunk) {
  KV_CHECK(view.queries.defined() && view.queries.size(1) == view.prompt_len(), "internal error: h2o needs every query");
  const std::int64_t T = view.prompt_len(), Hkv = view.num_kv_heads(), g = view.queries.size(0) / Hkv;
  at::Tensor sums = at::zeros({Hkv, g, T}, view.keys.options().dtype(at::kFloat));
  for (std::int64_t start = 0; start < T; start += query_chunk) {
    const std::int64_t n = std::min(query_chunk, T - start), end = start + n;
    const at::Tensor a = causal_attention(view.queries.narrow(1, start, n), view.keys.narrow(1, 0, end), start, view.scale);
    sums.narrow(2, 0, end).add_(a.sum(2));
  }
  return sums;  // [Hkv, g, T]
}
}  // namespace

at::Tensor compute_scores(ScorerKind scorer, const LayerView& view, const ScoreConfig& c) {
  const std::int64_t E = evictable_of(view, c.window), Hkv = view.num_kv_heads();
  const ReductionKind reduction = c.reduction;
  const PoolKind pool = c.pool;
  switch (scorer) {
    case ScorerKind::kWindow: {
      const at::Tensor a = window_attention(view, c.window);  // [Hkv, g, w, T]
      return pool_positions(reduce_group(a.narrow(3, 0, E).sum(2), reduction), c.kernel, pool);
    }
    case ScorerKind::kCake: return cake_scores(window_attention(view, c.window), E, c);
    case ScorerKind::kH2o:
      return pool_positions(reduce_group(h2o_column_sums(view, c.h2o_query_chunk).narrow(2, 0, E), reduction), c.kernel,
                            pool);
    case ScorerKind::kTova: {
      // The last prompt query's attention, averaged over every query head: one score shared by all heads.
      const at::Tensor a = window_attention(view, 1);               // [Hkv, g, 1, T]
      const at::Tensor shared = a.narrow(3, 0, E).mean({0, 1, 2});  // [E]
      return shared.unsqueeze(0).expand({Hkv, E}).contiguous();
    }
    case ScorerKind::kKnorm: return -view.keys.narrow(1, 0, E).to(at::kFloat).norm(2, -1);  // keep small-norm keys
    case ScorerKind::kRandom: {
      at::Generator gen = at::detail::createCPUGenerator(c.seed * 1000003ULL + static_cast<std::uint64_t>(view.layer));
      return at::rand({Hkv, E}, gen, at::TensorOptions().dtype(at::kFloat)).to(view.keys.device());
    }
  }
  fail("internal error: a scorer without a case");
}

at::Tensor compute_scores(const std::string& scorer, const LayerView& view, const ScoreConfig& c) {
  return compute_scores(parse_kind<ScorerKind>(scorer), view, c);
}

at::Tensor cake_scores(const at::Tensor& window_attn, std::int64_t evictable, const ScoreConfig& c) {
  const at::Tensor a = window_attn.narrow(3, 0, evictable);  // [Hkv, g, w, E]
  const at::Tensor s = a.mean(2) + c.cake_gamma * a.var(2, /*unbiased=*/false);
  return pool_positions(reduce_group(s, c.reduction), c.kernel, c.pool);
}

double cake_preference(const at::Tensor& window_attn, std::int64_t evictable, double tau1, double tau2) {
  // Spatial dispersion: entropy of the mean attention distribution over the evictable positions; temporal
  // shift: variance over the window's queries, averaged over positions and heads.
  const at::Tensor a = window_attn.narrow(3, 0, evictable);               // [Hkv, g, w, E]
  at::Tensor dist = a.mean({0, 1, 2});
  dist = dist / dist.sum().clamp_min(1e-30);
  const double entropy = -(dist * (dist + 1e-30).log()).sum().item<double>();
  const double variance = a.var(2, /*unbiased=*/false).mean().item<double>();
  return std::pow(std::max(entropy, 1e-12), 1.0 / tau1) * std::pow(std::max(variance, 1e-30), 1.0 / tau2);
}

}  // namespace kvbench
