#pragma once
// The parts eviction policies are composed of (policies.md, "Composition matters more than the list"):
//   scorer          importance of every evictable position for every KV head (window attention, h2o, tova,
//                   knorm, random, cake, expected_attention, keydiff, lagkv, kvzip), optionally reweighted by
//                   CriticalKV's two stages once the head budgets are known (`critical`)
//   layer allocator how many positions each layer keeps (uniform, pyramid, cake)
//   head allocator  how a layer's positions split over its KV heads (uniform, ada)
//   selector        which positions fill those budgets (top-k, or K-VEC's coverage-aware selection)
// Everything runs on the tensors' device; the only host work is a handful of small per-layer vectors.
// Evictable positions are E = [0, T - w); the last w prompt positions (the window) are always kept.

#include <ATen/ATen.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/common/error.h"
#include "policies/policy.h"

namespace kvbench {

// --- component kinds --------------------------------------------------------------------------------------
// Every knob that names a part is resolved once into one of these (parse_kind), so that the parts dispatch on
// a type, and each set of names, with its error message, lives in one place.

enum class ScorerKind { kWindow, kH2o, kTova, kKnorm, kRandom, kCake, kExpectedAttention, kKeydiff, kLagkv, kKvzip };
enum class LayerAllocatorKind { kUniform, kPyramid, kCake, kPyramidKvpress };
enum class HeadAllocatorKind { kUniform, kAda, kAdaKvpress };
enum class GranularityKind { kKvHead, kQueryHead };
enum class QueryReductionKind { kSum, kMean };
enum class AdaRoundingKind { kLargestRemainder, kNearest };
enum class SelectorKind { kTopk, kKvec };
enum class PoolKind { kMax, kAvg };
enum class ReductionKind { kMean, kMax, kSum };
enum class KvecNormalization { kRank, kSum };
enum class KvecUnit { kPosition, kTokenId };
enum class KvecRhoMode { kFixed, kAgreement };

/// The names of a kind's values, in enum order, and the knob's name in messages.
template <typename Kind>
struct KindNames;
template <> struct KindNames<ScorerKind> {
  static constexpr const char* knob = "scorer";
  static constexpr std::array<const char*, 10> names = {"window", "h2o", "tova", "knorm", "random", "cake",
                                                         "expected_attention", "keydiff", "lagkv", "kvzip"};
};
template <> struct KindNames<LayerAllocatorKind> {
  static constexpr const char* knob = "layer_allocator";
  static constexpr std::array<const char*, 4> names = {"uniform", "pyramid", "cake", "pyramid_kvpress"};
};
template <> struct KindNames<HeadAllocatorKind> {
  static constexpr const char* knob = "head_allocator";
  static constexpr std::array<const char*, 3> names = {"uniform", "ada", "ada_kvpress"};
};
template <> struct KindNames<GranularityKind> {
  static constexpr const char* knob = "granularity";
  static constexpr std::array<const char*, 2> names = {"kv_head", "query_head"};
};
template <> struct KindNames<QueryReductionKind> {
  static constexpr const char* knob = "query_reduction";
  static constexpr std::array<const char*, 2> names = {"sum", "mean"};
};
template <> struct KindNames<AdaRoundingKind> {
  static constexpr const char* knob = "ada_rounding";
  static constexpr std::array<const char*, 2> names = {"largest_remainder", "nearest"};
};
template <> struct KindNames<SelectorKind> {
  static constexpr const char* knob = "selector";
  static constexpr std::array<const char*, 2> names = {"topk", "kvec"};
};
template <> struct KindNames<PoolKind> {
  static constexpr const char* knob = "pool";
  static constexpr std::array<const char*, 2> names = {"max", "avg"};
};
template <> struct KindNames<ReductionKind> {
  static constexpr const char* knob = "reduction";
  static constexpr std::array<const char*, 3> names = {"mean", "max", "sum"};
};
template <> struct KindNames<KvecNormalization> {
  static constexpr const char* knob = "K-VEC normalization";
  static constexpr std::array<const char*, 2> names = {"rank", "sum"};
};
template <> struct KindNames<KvecUnit> {
  static constexpr const char* knob = "K-VEC unit";
  static constexpr std::array<const char*, 2> names = {"position", "token_id"};
};
template <> struct KindNames<KvecRhoMode> {
  static constexpr const char* knob = "K-VEC rho_mode";
  static constexpr std::array<const char*, 2> names = {"fixed", "agreement"};
};

/// The value called `name`; throws "unknown <knob> '<name>' (use a, b or c)".
template <typename Kind>
Kind parse_kind(const std::string& name) {
  const auto& names = KindNames<Kind>::names;
  std::string all;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (name == names[i]) return static_cast<Kind>(i);
    all += std::string(i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  fail("unknown ", KindNames<Kind>::knob, " '", name, "' (use ", all, ")");
}

/// The name of `kind` (for describe() and memo keys).
template <typename Kind>
const char* kind_name(Kind kind) {
  return KindNames<Kind>::names[static_cast<std::size_t>(kind)];
}

// --- scorers ------------------------------------------------------------------------------------------

/// Knobs of the observation-window scorers (SnapKV family) and their pooling.
struct ScoreConfig {
  std::int64_t window = 32;         ///< w: observation window (always kept unless CompositionConfig::keep_window is off)
  std::int64_t kernel = 7;          ///< pooling kernel over positions (1: none)
  PoolKind pool = PoolKind::kMax;   ///< max | avg
  ReductionKind reduction = ReductionKind::kMean;  ///< over the g query heads of a KV head: mean | max | sum
  /// kv_head: scores reduced over each KV head's g query heads; query_head: one row per query head (nothing
  /// reduced; scorers without per-query-head scores repeat their KV head's row).
  GranularityKind granularity = GranularityKind::kKvHead;
  /// How a key's attention from several queries adds up: sum (SnapKV's, KVCache-Factory's, H2O's column sums) or
  /// mean over the queries that see it (kvpress: the window's mean; ObservedAttention: column sum / (T - j)).
  /// Rankings do not change; absolute scores do (CriticalKV's epsilon, kvpress's max + 1 padding).
  QueryReductionKind query_reduction = QueryReductionKind::kSum;
  double cake_gamma = 200.0;        ///< CAKE: token score = mean_w(A) + gamma * var_w(A)
  std::int64_t h2o_query_chunk = 1024;  ///< H2O, KVzip: queries per chunk (never the whole attention matrix)
  std::uint64_t seed = 0;           ///< random scorer
  // Expected Attention (defaults of kvpress ExpectedAttentionPress).
  std::int64_t n_future_positions = 512;  ///< RoPE is averaged over the next this many positions
  std::int64_t n_sink = 4;                ///< first positions: out of the statistics and always kept (also LagKV,
                                          ///< KVzip)
  bool use_covariance = true;             ///< the k^T Sigma k / 2d term
  bool use_vnorm = true;                  ///< scores times ||v||
  double ea_epsilon = 0.0;                ///< (score + epsilon) * ||v||
  std::int64_t ea_stats_window = 0;       ///< queries for the statistics: the last n (0: every query after the sinks)
  // LagKV (defaults of kvpress LagKVPress).
  std::int64_t lag_size = 128;            ///< partition length; each partition is normalized by the next one
  bool lag_cross_scoring = false;         ///< raw softmax scores instead of ranks within each partition
};

/// Softmax attention of the last w prompt queries over all T keys, causal inside the window, float32:
/// [Hkv, g, w, T] (query head i of KV head h is index [h, i % g]).
at::Tensor window_attention(const LayerView& view, std::int64_t window);

/// Scores [Hkv, E] (float32, higher = keep) of a scorer: window (SnapKV: column sums over the window, reduced
/// over the group, pooled), h2o (column sums over ALL queries, chunked), tova (last query's attention averaged
/// over all heads, one shared score), knorm (-||k||), random, cake (mean + gamma * variance over the window,
/// avg-pooled), kvzip (reconstruction_max_attention reduced over the group, pooled; the first n_sink positions
/// score above all others). The string form parses the name first.
at::Tensor compute_scores(ScorerKind scorer, const LayerView& view, const ScoreConfig& config);
at::Tensor compute_scores(const std::string& scorer, const LayerView& view, const ScoreConfig& config);

/// Reduces [Hkv, g, E] over the group axis (mean | max | sum).
at::Tensor reduce_group(const at::Tensor& per_query_head, ReductionKind reduction);
at::Tensor reduce_group(const at::Tensor& per_query_head, const std::string& reduction);
/// [Hkv, g, E] to the cache heads of `config.granularity`: reduced to [Hkv, E], or one row per query head [Hq, E].
at::Tensor group_scores(const at::Tensor& per_query_head, const ScoreConfig& config);
/// Scores [Hkv, E] of a scorer without per-query-head scores, repeated to the query heads for query_head
/// granularity (each query head ranks as its KV head).
at::Tensor to_cache_heads(const at::Tensor& per_kv_head, const LayerView& view, const ScoreConfig& config);
/// 1-D pooling over the last axis with stride 1 and padding kernel/2 (max | avg, as SnapKV's F.*_pool1d).
at::Tensor pool_positions(const at::Tensor& scores, std::int64_t kernel, PoolKind pool);
at::Tensor pool_positions(const at::Tensor& scores, std::int64_t kernel, const std::string& pool);

/// Expected Attention (kvpress ExpectedAttentionPress): future queries as a Gaussian fitted to the pre-RoPE
/// prompt queries, rotated by RoPE averaged over the next n_future_positions; per query head
/// softmax_j(s mu.k_j + s^2 k_j^T Sigma k_j / 2) over the keys after the sinks, averaged over the group, times
/// ||v_j|| (plus epsilon); sinks get the maximum. [Hkv, E]. Needs view.rope_inv_freq.
at::Tensor expected_attention_scores(const LayerView& view, const ScoreConfig& config);
/// KeyDiff: -cos(k_j, mean of the normalized keys of the head), over all T keys: [Hkv, E].
at::Tensor keydiff_scores(const LayerView& view, std::int64_t evictable);
/// KVzip's reconstruction attention: per query head, the largest softmax probability any reconstruction query
/// (view.queries, at positions view.reconstruction_start on) gives each prompt position, the softmax running over
/// every key the query sees causally in view.reconstruction_keys (prompt, repeat instruction, the repetition up
/// to itself). `query_chunk` queries at a time, float32: [Hkv, g, T]. Throws when the view has no reconstruction.
at::Tensor reconstruction_max_attention(const LayerView& view, std::int64_t query_chunk);
/// LagKV (kvpress LagKVPress): each lag_size partition after the sinks is min-max normalized by the next one's
/// per-channel range; std over channels, softmax over the partition, keys and values averaged, ranked within
/// the partition (/ lag_size). Sinks and the last, reference-less partitions score 1. [Hkv, E].
at::Tensor lagkv_scores(const LayerView& view, const ScoreConfig& config);

/// CriticalKV's value weights [Hkv, E]: ||W_o^q v_j||_1 over the model dimension, for each query head q of a KV
/// head (W_o^q: q's d columns of view.out_proj), averaged over the group ([Hq, E], one per query head, when
/// `per_query_head`). Throws when out_proj is undefined.
at::Tensor projected_value_norms(const LayerView& view, std::int64_t evictable, bool per_query_head = false);
/// CriticalKV's two stages on base scores [Hkv, E]: head h's top first_stage[h] positions by `base` score above
/// every other position (ordered by `base`), the rest score (base + epsilon) * norms.
at::Tensor critical_scores(const at::Tensor& base, const at::Tensor& norms,
                           const std::vector<std::int64_t>& first_stage, double epsilon);
/// How many of a head's `budget` evictable positions CriticalKV's first stage takes: floor(ratio * total) - w,
/// clamped to [0, budget], where total is the head's whole budget with the w always-kept positions (kvpress
/// counts the window, which its SnapKV scores highest, inside the first stage; for a compression ratio it takes
/// int((1 - r) T ratio), so `total` is the unrounded T (1 - r)).
std::int64_t critical_first_stage(std::int64_t budget, double total, std::int64_t window, double ratio);

/// CAKE's token scores from the window attention [Hkv, g, w, T]: mean + gamma * variance over the window's
/// queries, reduced over the group and pooled: [Hkv, E].
at::Tensor cake_scores(const at::Tensor& window_attn, std::int64_t evictable, const ScoreConfig& config);
/// CAKE's layer preference from the window attention: entropy^(1/tau1) * variance^(1/tau2).
double cake_preference(const at::Tensor& window_attn, std::int64_t evictable, double tau1, double tau2);

// --- allocators ----------------------------------------------------------------------------------------

/// PyramidKV's per-layer budgets (window excluded), integer arithmetic as the paper's code: b = B - w,
/// min = b / beta, max = 2b - min (clipped to T - w), step = (max - min) / (L - 1), layer l: max - l * step.
std::vector<std::int64_t> pyramid_budgets(std::int64_t b, std::int64_t evictable, std::int64_t num_layers, double beta);

/// kvpress PyramidKVPress's budget of `layer` (positions kept, its window included), in floating point from the
/// unrounded x = T (1 - r): c = w + x, min = (c - w) / beta, max = 2 (c - w) - min, clipped to T - w (then
/// min = 2 (c - w) - max); unless T >= max >= min >= w, every layer keeps round(x) (its SnapKV fallback); else
/// round(max - layer (max - min) / (L - 1)). round() is Python's: half to even.
std::int64_t kvpress_pyramid_budget(double x, std::int64_t prompt_len, std::int64_t window, std::int64_t num_layers,
                                    std::int64_t layer, double beta);

/// How Ada-KV's allocation reads and rounds (the Ada-KV repository and KVCache-Factory's AdaKVCluster differ from
/// kvbench's rule only here).
struct AdaOptions {
  /// Scale each head's scores by the share of its score mass in its own top b before the global top-k (Ada-KV's
  /// `normalize`).
  bool normalize = false;
  /// largest_remainder: (1 - alpha) c_h + alpha b rounded so the layer keeps exactly H b (kvbench); nearest:
  /// round((1 - alpha) c_h + int(alpha b)) per head in float32, half to even (Ada-KV; the total may differ).
  AdaRoundingKind rounding = AdaRoundingKind::kLargestRemainder;
};

/// Ada-KV's head budgets: the global top (H * b) of the flattened scores counts c_h winners per head;
/// head h gets (1 - alpha) c_h + alpha b, rounded as `options` say.
std::vector<std::int64_t> ada_head_budgets(const at::Tensor& scores, std::int64_t b, double alpha,
                                           const AdaOptions& options = {});

/// kvpress AdaKVPress's head budgets: each head keeps its own top `safe` positions, then one top-k over the rest of
/// the layer fills H * b: head h gets safe + its winners of that top-k.
std::vector<std::int64_t> kvpress_ada_budgets(const at::Tensor& scores, std::int64_t b, std::int64_t safe);

/// Splits `total` over items in proportion to `weights`, each capped by `caps`, rounded by largest
/// remainder (water-filling: capped items give their excess to the others). Sum is min(total, sum(caps)).
std::vector<std::int64_t> proportional_allocation(const std::vector<double>& weights,
                                                  const std::vector<std::int64_t>& caps, std::int64_t total);

// --- selectors -----------------------------------------------------------------------------------------

/// Every ranking of kvbench picks through this: the indices of the `k` largest entries along the last dimension
/// of `scores`, best first, equal scores ranked by lower index first. at::topk leaves the order of equal scores to
/// the implementation (the CPU's and CUDA's differ), and max-pooled attention scores tie on whole plateaus, so a
/// budget boundary often falls among equal scores: without a rule the kept sets, and the tokens, would depend on
/// the device.
at::Tensor top_k_indices(const at::Tensor& scores, std::int64_t k);
/// The whole ranking: indices of every entry along the last dimension, best first, ties by lower index. Inside a
/// RankMemoScope the ranking of a memo tensor (scores the policies share) is kept in the memo and reused.
at::Tensor rank_descending(const at::Tensor& scores);

/// While alive, rank_descending() keeps the rankings of the memo's own tensors (and of views of them) in `memo`
/// (one layer's, shared by the prefill's policies), so that the policies of a sweep that rank the same shared
/// scores (snapkv at two budgets, pyramidkv and adakv beside it) sort them once: a sort is several kernel
/// launches, and a sweep's compression is launch-bound. Other tensors are sorted every time. Scopes nest; a null
/// memo caches nothing.
class RankMemoScope {
 public:
  explicit RankMemoScope(LayerMemo* memo);
  ~RankMemoScope();
  RankMemoScope(const RankMemoScope&) = delete;
  RankMemoScope& operator=(const RankMemoScope&) = delete;

 private:
  LayerMemo* previous_;
};

/// Per head h, its top budgets[h] positions by scores [Hkv, E], each head's list sorted ascending.
std::vector<at::Tensor> select_top(const at::Tensor& scores, const std::vector<std::int64_t>& budgets);

/// K-VEC's knobs (kvec.md). normalization, unit and rho_mode are names of KvecNormalization / KvecUnit /
/// KvecRhoMode values. rho_mode and band are ours, beyond kvec.md (docs/policies.md, issue 18's study):
///   rho_mode agreement: a layer's coverage share is rho x the overlap of its heads' top-b sets
///     (1 - |union| / sum of budgets), so heads that already disagree keep their own top;
///   band > 0: a head's coverage candidates are only positions within its own top ceil(band x b), so a
///     coverage slot holds a position the head itself ranks near its budget, not any uncovered one.
struct KvecConfig {
  double rho = 0.25;           ///< coverage share of each head's budget
  double lambda = 1.0;         ///< cross-layer strength
  double gamma = 1.0;          ///< cross-layer decay of the counts
  std::string normalization = "rank";  ///< rank | sum
  std::string unit = "position";       ///< position | token_id
  bool cross_head = true;
  bool cross_layer = true;
  std::string rho_mode = "fixed";  ///< fixed | agreement
  double band = 0;                 ///< 0 (no limit) or >= 1: coverage candidates within the head's top band x b
};

/// K-VEC's state across the layers of one forward pass: how often earlier layers kept each position.
struct KvecState {
  at::Tensor counts;  ///< float32 [E] (or undefined before layer 0)
};

/// K-VEC selection for one layer: core top-k, then coverage slots filled with positions no core covers,
/// assigned across heads and damped by earlier layers' counts. Returns each head's positions in [0, E),
/// sorted; head h keeps exactly budgets[h]. Updates `state` with this layer's kept set.
std::vector<at::Tensor> select_kvec(const at::Tensor& scores, const std::vector<std::int64_t>& budgets,
                                    const at::Tensor& token_ids, const KvecConfig& config, KvecState& state);

/// Throws on a K-VEC setting out of range or unknown (the one check of them, for configs and for select_kvec).
void validate(const KvecConfig& config);

/// [H, n] scores followed by `window` positions scored above all of them (the layer's maximum + 1, as kvpress's
/// presses pad their observation window and sinks): kept first, yet ranked like any position.
at::Tensor pad_with_top(const at::Tensor& scores, std::int64_t window, bool at_front = false);

/// Appends the window [E, T) to each head's positions and packs them (uniform when all heads agree in size).
KeptPositions with_window(const std::vector<at::Tensor>& per_head, std::int64_t evictable, std::int64_t prompt_len);

}  // namespace kvbench
