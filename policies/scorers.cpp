// Scorers: how important each evictable prompt position is to each KV head.
#include <algorithm>
#include <cmath>
#include <limits>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/device/transfer.h"
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
  // The input is an expanded zero, not at::empty: libtorch 1.13's CPU baddbmm multiplies it by beta = 0, so a
  // NaN left in uninitialized memory would reach the scores.
  const at::Tensor logits = at::baddbmm(at::zeros({1, 1, 1}, q.options()).expand({Hkv, g * n, Tk}),
                                        q.reshape({Hkv, g * n, d}), k.transpose(1, 2), /*beta=*/0, /*alpha=*/scale)
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
  KV_CHECK(view.prompt_len() >= window, "the policy's observation window of ", window, " queries is longer than the ",
           view.prompt_len(), "-token prompt (kvpress refuses such prompts too): set a smaller `window` or use a "
           "longer prompt");
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

at::Tensor group_scores(const at::Tensor& x, const ScoreConfig& c) {
  if (c.granularity == GranularityKind::kQueryHead) return x.reshape({x.size(0) * x.size(1), x.size(2)});
  return reduce_group(x, c.reduction);
}

at::Tensor to_cache_heads(const at::Tensor& x, const LayerView& view, const ScoreConfig& c) {
  const std::int64_t g = view.query_heads() / view.num_kv_heads();
  if (c.granularity == GranularityKind::kKvHead || g == 1) return x;
  return x.repeat_interleave(g, 0);
}

at::Tensor pad_with_top(const at::Tensor& scores, std::int64_t window, bool at_front) {
  if (window <= 0) return scores;
  const at::Tensor top = (scores.max() + 1).expand({scores.size(0), window});
  return at_front ? at::cat({top, scores}, 1) : at::cat({scores, top}, 1);
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
    check_interrupt();  // the full attention of a long prompt takes minutes on a CPU
    const std::int64_t n = std::min(query_chunk, T - start), end = start + n;
    const at::Tensor a = causal_attention(view.queries.narrow(1, start, n), view.keys.narrow(1, 0, end), start, view.scale);
    sums.narrow(2, 0, end).add_(a.sum(2));
  }
  return sums;  // [Hkv, g, T]
}
}  // namespace

at::Tensor reconstruction_max_attention(const LayerView& view, std::int64_t query_chunk) {
  KV_CHECK(view.reconstruction_keys.defined(), "kvzip scores in the engine's reconstruction pass "
           "(LayerView::reconstruction_keys), which this caller does not run");
  const std::int64_t T = view.prompt_len(), Hkv = view.num_kv_heads(), start = view.reconstruction_start;
  const std::int64_t N = view.reconstruction_keys.size(1);
  KV_CHECK(view.queries.defined() && start >= T && start + view.queries.size(1) == N, "internal error: kvzip needs "
           "the queries of positions [", start, ", ", N, ") of the reconstruction pass");
  const std::int64_t n_all = view.queries.size(1), g = view.queries.size(0) / Hkv;
  at::Tensor best = at::zeros({Hkv, g, T}, view.keys.options().dtype(at::kFloat));
  for (std::int64_t s = 0; s < n_all; s += query_chunk) {
    check_interrupt();
    const std::int64_t n = std::min(query_chunk, n_all - s), first = start + s;
    // Softmax over every key these queries see, so probabilities are those of the real forward pass; only the
    // prompt's columns are kept.
    const at::Tensor a = causal_attention(view.queries.narrow(1, s, n),
                                          view.reconstruction_keys.narrow(1, 0, first + n), first, view.scale);
    best = at::maximum(best, std::get<0>(a.narrow(3, 0, T).max(2)));
  }
  return best;
}

namespace {
// HF's rotate_half over the last axis: [x1, x2] -> [-x2, x1].
at::Tensor rotate_half(const at::Tensor& x) {
  const std::int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// RoPE's cos and sin [n, d] (float32) at `positions` [n], built as HF builds them (angles repeated per half)
// over the rotary dims (2 x inv_freq's); the rest of a head (partial rotary) is not rotated: cos 1, sin 0.
std::pair<at::Tensor, at::Tensor> rope_tables(const at::Tensor& inv_freq, const at::Tensor& positions, std::int64_t d) {
  const at::Tensor angles = positions.to(at::kFloat).unsqueeze(1) * inv_freq.to(at::kFloat).unsqueeze(0);
  const at::Tensor emb = at::cat({angles, angles}, 1);
  const std::int64_t pass = d - emb.size(1);
  if (pass == 0) return {emb.cos(), emb.sin()};
  const auto opts = emb.options();
  return {at::cat({emb.cos(), at::ones({emb.size(0), pass}, opts)}, 1), at::cat({emb.sin(), at::zeros({emb.size(0), pass}, opts)}, 1)};
}

// rotate_half over the leading `r` dims of the last axis (the rest, where sin is 0, passes through).
at::Tensor rotate_half(const at::Tensor& x, std::int64_t r) {
  const std::int64_t d = x.size(-1);
  return r == d ? rotate_half(x) : at::cat({rotate_half(x.narrow(-1, 0, r)), x.narrow(-1, r, d - r)}, -1);
}

// Mean [Hq, d] and covariance [Hq, d, d] (1/n, as kvpress) of the pre-RoPE queries from position `first` on.
// The view holds post-RoPE queries; RoPE is a rotation, so rotating by -t gives the pre-RoPE query back.
std::pair<at::Tensor, at::Tensor> query_statistics(const LayerView& view, std::int64_t first) {
  const std::int64_t T = view.prompt_len(), n = T - first;
  const auto positions = at::arange(first, T, view.rope_inv_freq.options().dtype(at::kLong));
  const at::Tensor q = view.queries.narrow(1, view.queries.size(1) - n, n).to(at::kFloat);  // [Hq, n, d]
  const auto [cos, sin] = rope_tables(view.rope_inv_freq, positions, q.size(2));
  const at::Tensor pre = q * cos - rotate_half(q, 2 * view.rope_inv_freq.numel()) * sin;
  const at::Tensor mu = pre.mean(1);
  const at::Tensor centered = pre - mu.unsqueeze(1);
  return {mu, at::bmm(centered.transpose(1, 2), centered) / static_cast<double>(n)};
}

// RoPE's rotation of d-dim heads averaged over positions [from, from + n): diag(mean cos) + diag(mean sin) P,
// where P x = rotate_half(x) over the rotary dims.
at::Tensor average_rotation(const at::Tensor& inv_freq, std::int64_t from, std::int64_t n, std::int64_t d) {
  const auto [cos, sin] = rope_tables(inv_freq, at::arange(from, from + n, inv_freq.options().dtype(at::kLong)), d);
  const at::Tensor c = cos.mean(0), s = sin.mean(0);
  const std::int64_t half = inv_freq.numel();
  const at::Tensor eye = at::eye(half, c.options());
  const at::Tensor zero = at::zeros({half, half}, c.options());
  const at::Tensor P = at::zeros({d, d}, c.options());
  P.narrow(0, 0, 2 * half).narrow(1, 0, 2 * half).copy_(at::cat({at::cat({zero, -eye}, 1), at::cat({eye, zero}, 1)}, 0));
  return at::diag(c) + s.unsqueeze(1) * P;
}
}  // namespace

at::Tensor expected_attention_scores(const LayerView& view, const ScoreConfig& c) {
  const std::int64_t T = view.prompt_len(), Hkv = view.num_kv_heads(), d = view.keys.size(2), E = T - c.window;
  KV_CHECK(view.rope_inv_freq.defined(), "expected_attention needs the model's RoPE frequencies "
           "(LayerView::rope_inv_freq), which this caller does not set");
  KV_CHECK(view.rope_inv_freq.numel() * 2 <= d, "expected_attention: ", view.rope_inv_freq.numel(),
           " RoPE frequencies for head dimension ", d);
  KV_CHECK(view.queries.defined() && view.queries.size(1) >= 1, "internal error: expected_attention needs queries");
  const std::int64_t Hq = view.queries.size(0), g = Hq / Hkv, sinks = std::min(c.n_sink, T - 1);
  std::int64_t first = std::max(T - view.queries.size(1), sinks);
  if (c.ea_stats_window > 0) first = std::max(first, T - c.ea_stats_window);
  const auto [mu, cov] = query_statistics(view, first);
  const at::Tensor R = average_rotation(view.rope_inv_freq, T, c.n_future_positions, d);
  const at::Tensor keys = view.keys.narrow(1, sinks, T - sinks).to(at::kFloat).unsqueeze(1);  // [Hkv, 1, T', d]
  // E[exp(s q.k)] for q ~ N(mu, Sigma) is exp(s mu.k + s^2 k^T Sigma k / 2).
  const at::Tensor mean = at::matmul(mu, R.t()).view({Hkv, g, 1, d});
  at::Tensor logits = at::matmul(mean, keys.transpose(2, 3)).squeeze(2) * view.scale;  // [Hkv, g, T - sinks]
  if (c.use_covariance) {
    const at::Tensor sigma = at::matmul(at::matmul(R, cov), R.t()).view({Hkv, g, d, d});
    logits = logits + (at::matmul(keys, sigma) * keys).sum(-1) * (view.scale * view.scale / 2);
  }
  at::Tensor scores = group_scores(at::softmax(logits, -1), c);  // [H, T - sinks]
  if (c.use_vnorm) {
    const at::Tensor norms = view.values.narrow(1, sinks, T - sinks).to(at::kFloat).norm(2, -1);
    scores = (scores + c.ea_epsilon) * to_cache_heads(norms, view, c);
  }
  // Sinks score the layer's maximum + 1, as kvpress pads them, so that they stay.
  return pad_with_top(scores, sinks, /*at_front=*/true).narrow(1, 0, E).contiguous();
}

at::Tensor keydiff_scores(const LayerView& view, std::int64_t evictable) {
  const at::Tensor k = view.keys.to(at::kFloat);
  const at::Tensor norm = k.norm(2, -1, true);
  const at::Tensor anchor = (k / norm.clamp_min(1e-12)).mean(1, true);  // [Hkv, 1, d]
  const at::Tensor kept = k.narrow(1, 0, evictable);
  const at::Tensor lengths = norm.narrow(1, 0, evictable).squeeze(-1) * anchor.norm(2, -1);
  const at::Tensor cosine = (kept * anchor).sum(-1) / lengths.clamp_min(1e-8);
  return -cosine;  // keep the keys least like the average direction
}

namespace {
// LagKV's score of every partition but the last of parts [H, P, lag, d]: min-max normalized per channel by
// the next partition, std over channels, softmax over the partition: [H, P - 1, lag].
at::Tensor lag_partition_scores(const at::Tensor& parts) {
  const std::int64_t P = parts.size(1);
  const at::Tensor ref = parts.narrow(1, 1, P - 1), x = parts.narrow(1, 0, P - 1);
  const at::Tensor lo = std::get<0>(ref.min(2, true)), hi = std::get<0>(ref.max(2, true));
  // kvpress divides unguarded; the clamp only matters for a channel constant over a whole partition.
  return ((x - lo) / (hi - lo).clamp_min(1e-12)).std(-1).softmax(-1);
}
}  // namespace

at::Tensor lagkv_scores(const LayerView& view, const ScoreConfig& c) {
  const std::int64_t T = view.prompt_len(), H = view.num_kv_heads(), d = view.keys.size(2), E = T - c.window;
  const std::int64_t lag = c.lag_size, sinks = std::min(c.n_sink, T);
  const auto opts = view.keys.options().dtype(at::kFloat);
  at::Tensor score = at::ones({H, T}, opts);
  if (T < sinks + 2 * lag) {
    // No partition has a reference yet: like kvpress, scores rise with the position (the recent part stays).
    if (T > sinks) {
      const at::Tensor rising = at::arange(T - sinks, opts) / static_cast<double>(T - sinks);
      score.narrow(1, sinks, T - sinks).copy_(rising.expand({H, T - sinks}));
    }
    return score.narrow(1, 0, E).contiguous();
  }
  const std::int64_t P = (T - sinks) / lag;
  auto parts = [&](const at::Tensor& x) {
    return x.narrow(1, sinks, P * lag).to(at::kFloat).reshape({H, P, lag, d});
  };
  at::Tensor s = (lag_partition_scores(parts(view.keys)) + lag_partition_scores(parts(view.values))) / 2;
  if (!c.lag_cross_scoring) {
    // Ranks with ties by lower index (stable), the same on every device.
    const at::Tensor order = std::get<1>(s.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/false));
    s = order.argsort(/*dim=*/-1, /*descending=*/false).to(at::kFloat) / static_cast<double>(lag);  // rank / lag
  }
  // The last full partition (the final reference) and the remainder keep their 1.
  score.narrow(1, sinks, (P - 1) * lag).copy_(s.reshape({H, (P - 1) * lag}));
  return score.narrow(1, 0, E).contiguous();
}

at::Tensor projected_value_norms(const LayerView& view, std::int64_t evictable, bool per_query_head) {
  KV_CHECK(view.out_proj.defined(), "criticalkv needs the layer's output projection (LayerView::out_proj), which this "
           "caller does not set");
  const std::int64_t Hkv = view.num_kv_heads(), d = view.values.size(2), D = view.out_proj.size(0);
  KV_CHECK(view.out_proj.dim() == 2 && view.out_proj.size(1) % (Hkv * d) == 0, "criticalkv: out_proj of shape ",
           view.out_proj.sizes(), " does not fit ", Hkv, " KV heads of dimension ", d);
  const std::int64_t Hq = view.out_proj.size(1) / d, g = Hq / Hkv;
  // Query head q's slice of o_proj, transposed: W[h, i] = W_o^(h g + i)^T, [Hkv, g, d, D].
  const at::Tensor w =
      view.out_proj.reshape({D, Hq, d}).permute({1, 2, 0}).reshape({Hkv, g, d, D}).to(view.values.dtype());
  at::Tensor norms = at::empty({Hkv, g, evictable}, view.values.options().dtype(at::kFloat));
  // Positions in chunks, so the projected values [Hkv, g, n, D] stay near 64M elements.
  const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t{1} << 26) / std::max<std::int64_t>(1, Hq * D));
  for (std::int64_t s = 0; s < evictable; s += chunk) {
    const std::int64_t n = std::min(chunk, evictable - s);
    const at::Tensor projected = at::matmul(view.values.narrow(1, s, n).unsqueeze(1), w);  // [Hkv, g, n, D]
    norms.narrow(2, s, n).copy_(projected.abs().sum(-1, false, at::kFloat));
  }
  return per_query_head ? norms.reshape({Hq, evictable}) : norms.mean(1);
}

std::int64_t critical_first_stage(std::int64_t budget, double total, std::int64_t window, double ratio) {
  const auto first = static_cast<std::int64_t>(std::floor(total * ratio)) - window;
  return std::clamp<std::int64_t>(first, 0, budget);
}

at::Tensor critical_scores(const at::Tensor& base, const at::Tensor& norms,
                           const std::vector<std::int64_t>& first_stage, double epsilon) {
  at::Tensor s = (base + epsilon) * norms;
  const std::int64_t most = *std::max_element(first_stage.begin(), first_stage.end());
  if (most == 0) return s;
  // kvpress lifts the first stage to the float maximum; a finite lift above every score keeps K-VEC's sum
  // normalization finite and orders the first stage by its base score.
  const at::Tensor lifted = s.max() + 1 + (base - base.min());
  const at::Tensor top = top_k_indices(base, most);  // [H, most]
  const at::Tensor limit = device_longs(first_stage, top.device()).unsqueeze(1);
  const at::Tensor in_stage = at::arange(most, top.options()).unsqueeze(0) < limit;
  return s.scatter(1, top, at::where(in_stage, lifted.gather(1, top), s.gather(1, top)));
}

at::Tensor compute_scores(ScorerKind scorer, const LayerView& view, const ScoreConfig& c) {
  const std::int64_t E = evictable_of(view, c.window), Hkv = view.num_kv_heads();
  const PoolKind pool = c.pool;
  const bool mean = c.query_reduction == QueryReductionKind::kMean;
  switch (scorer) {
    case ScorerKind::kWindow: {
      KV_CHECK(c.window >= 1, "the window scorer needs an observation window (window >= 1)");
      const at::Tensor a = window_attention(view, c.window).narrow(3, 0, E);  // [Hkv, g, w, E]
      return pool_positions(group_scores(mean ? a.mean(2) : a.sum(2), c), c.kernel, pool);
    }
    case ScorerKind::kCake: return cake_scores(window_attention(view, c.window), E, c);
    case ScorerKind::kH2o: {
      at::Tensor sums = h2o_column_sums(view, c.h2o_query_chunk);  // [Hkv, g, T]
      const std::int64_t T = view.prompt_len();
      // kvpress's ObservedAttention: key j's sum over the T - j queries that see it, divided by their number.
      if (mean) sums = sums / at::arange(T, 0, -1, sums.options());
      return pool_positions(group_scores(sums.narrow(2, 0, E), c), c.kernel, pool);
    }
    case ScorerKind::kTova: {
      // The last prompt query's attention, averaged over every query head: one score shared by all heads.
      const at::Tensor a = window_attention(view, 1);               // [Hkv, g, 1, T]
      const at::Tensor shared = a.narrow(3, 0, E).mean({0, 1, 2});  // [E]
      return to_cache_heads(shared.unsqueeze(0).expand({Hkv, E}).contiguous(), view, c);
    }
    case ScorerKind::kKnorm:  // keep small-norm keys
      return to_cache_heads(-view.keys.narrow(1, 0, E).to(at::kFloat).norm(2, -1), view, c);
    case ScorerKind::kRandom: {
      at::Generator gen = at::detail::createCPUGenerator(c.seed * 1000003ULL + static_cast<std::uint64_t>(view.layer));
      return to_cache_heads(at::rand({Hkv, E}, gen, at::TensorOptions().dtype(at::kFloat)).to(view.keys.device()), view, c);
    }
    case ScorerKind::kExpectedAttention: return expected_attention_scores(view, c);
    case ScorerKind::kKeydiff: return to_cache_heads(keydiff_scores(view, E), view, c);
    case ScorerKind::kLagkv: return to_cache_heads(lagkv_scores(view, c), view, c);
    case ScorerKind::kKvzip: {
      const at::Tensor best = reconstruction_max_attention(view, c.h2o_query_chunk).narrow(2, 0, E);  // [Hkv, g, E]
      at::Tensor s = pool_positions(group_scores(best, c), c.kernel, pool);
      // kvpress's sinks: scored above everything so that they stay (kvpress gives them 1, the largest probability).
      const std::int64_t sinks = std::min(c.n_sink, E);
      if (sinks > 0) s.narrow(1, 0, sinks).copy_((s.max() + 1).expand({s.size(0), sinks}));
      return s;
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
  return pool_positions(group_scores(s, c), c.kernel, c.pool);
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
