#pragma once
// The parts eviction policies are composed of (policies.md, "Composition matters more than the list"):
//   scorer          importance of every evictable position for every KV head (window attention, h2o, tova,
//                   knorm, random, cake)
//   layer allocator how many positions each layer keeps (uniform, pyramid, cake)
//   head allocator  how a layer's positions split over its KV heads (uniform, ada)
//   selector        which positions fill those budgets (top-k, or K-VEC's coverage-aware selection)
// Everything runs on the tensors' device; the only host work is a handful of small per-layer vectors.
// Evictable positions are E = [0, T - w); the last w prompt positions (the window) are always kept.

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "policies/policy.h"

namespace kvbench {

// --- scorers ------------------------------------------------------------------------------------------

/// Knobs of the observation-window scorers (SnapKV family) and their pooling.
struct ScoreConfig {
  std::int64_t window = 32;         ///< w: observation window, always kept
  std::int64_t kernel = 7;          ///< pooling kernel over positions (1: none)
  std::string pool = "max";         ///< max | avg
  std::string reduction = "mean";   ///< over the g query heads of a KV head: mean | max | sum
  double cake_gamma = 200.0;        ///< CAKE: token score = mean_w(A) + gamma * var_w(A)
  std::int64_t h2o_query_chunk = 1024;  ///< H2O: queries per chunk of the column sums (never the T x T matrix)
  std::uint64_t seed = 0;           ///< random scorer
};

/// Softmax attention of the last w prompt queries over all T keys, causal inside the window, float32:
/// [Hkv, g, w, T] (query head i of KV head h is index [h, i % g]).
at::Tensor window_attention(const LayerView& view, std::int64_t window);

/// Scores [Hkv, E] (float32, higher = keep) of the named scorer: "window" (SnapKV: column sums over the
/// window, reduced over the group, pooled), "h2o" (column sums over ALL queries, chunked), "tova" (last
/// query's attention averaged over all heads, one shared score), "knorm" (-||k||), "random", "cake"
/// (mean + gamma * variance over the window, avg-pooled).
at::Tensor compute_scores(const std::string& scorer, const LayerView& view, const ScoreConfig& config);

/// Reduces [Hkv, g, E] over the group axis (mean | max | sum).
at::Tensor reduce_group(const at::Tensor& per_query_head, const std::string& reduction);
/// 1-D pooling over the last axis with stride 1 and padding kernel/2 (max | avg, as SnapKV's F.*_pool1d).
at::Tensor pool_positions(const at::Tensor& scores, std::int64_t kernel, const std::string& pool);

/// CAKE's token scores from the window attention [Hkv, g, w, T]: mean + gamma * variance over the window's
/// queries, reduced over the group and pooled: [Hkv, E].
at::Tensor cake_scores(const at::Tensor& window_attn, std::int64_t evictable, const ScoreConfig& config);
/// CAKE's layer preference from the window attention: entropy^(1/tau1) * variance^(1/tau2).
double cake_preference(const at::Tensor& window_attn, std::int64_t evictable, double tau1, double tau2);

// --- allocators ----------------------------------------------------------------------------------------

/// PyramidKV's per-layer budgets (window excluded), integer arithmetic as the paper's code: b = B - w,
/// min = b / beta, max = 2b - min (clipped to T - w), step = (max - min) / (L - 1), layer l: max - l * step.
std::vector<std::int64_t> pyramid_budgets(std::int64_t b, std::int64_t evictable, std::int64_t num_layers, double beta);

/// Ada-KV's head budgets: the global top (Hkv * b) of the flattened scores counts c_h winners per head;
/// head h gets (1 - alpha) c_h + alpha b, rounded by largest remainder so the layer total is exactly Hkv * b.
std::vector<std::int64_t> ada_head_budgets(const at::Tensor& scores, std::int64_t b, double alpha);

/// Splits `total` over items in proportion to `weights`, each capped by `caps`, rounded by largest
/// remainder (water-filling: capped items give their excess to the others). Sum is min(total, sum(caps)).
std::vector<std::int64_t> proportional_allocation(const std::vector<double>& weights,
                                                  const std::vector<std::int64_t>& caps, std::int64_t total);

// --- selectors -----------------------------------------------------------------------------------------

/// Per head h, its top budgets[h] positions by scores [Hkv, E], each head's list sorted ascending.
std::vector<at::Tensor> select_top(const at::Tensor& scores, const std::vector<std::int64_t>& budgets);

/// K-VEC's knobs (kvec.md).
struct KvecConfig {
  double rho = 0.25;           ///< coverage share of each head's budget
  double lambda = 1.0;         ///< cross-layer strength
  double gamma = 1.0;          ///< cross-layer decay of the counts
  std::string normalization = "rank";  ///< rank | sum
  std::string unit = "position";       ///< position | token_id
  bool cross_head = true;
  bool cross_layer = true;
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

/// Appends the window [E, T) to each head's positions and packs them (uniform when all heads agree in size).
KeptPositions with_window(const std::vector<at::Tensor>& per_head, std::int64_t evictable, std::int64_t prompt_len);

}  // namespace kvbench
