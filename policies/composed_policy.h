#pragma once
// A policy assembled from components.h's parts; every named baseline and K-VEC variant is one of these with
// different defaults (see the preset files and policy_list.h).

#include <memory>
#include <string>
#include <vector>

#include "policies/components.h"
#include "policies/registry.h"

namespace kvbench {

/// The parts of a composed policy and every knob they read (defaults: SnapKV's; presets and references change
/// some).
struct CompositionConfig {
  std::string reference = "kvbench";  ///< whose conventions these defaults are (reference.h), for describe()
  ScorerKind scorer = ScorerKind::kWindow;
  LayerAllocatorKind layer_allocator = LayerAllocatorKind::kUniform;
  HeadAllocatorKind head_allocator = HeadAllocatorKind::kUniform;
  SelectorKind selector = SelectorKind::kTopk;
  ScoreConfig score;
  /// The last `window` positions are always kept (kvbench, KVCache-Factory, Ada-KV); off, they are ranked with
  /// the layer's maximum score + 1 instead, as kvpress's presses pad their window: kept whenever the budget holds
  /// them, and counted by CriticalKV's stages and AdaKVPress's safeguard like any position.
  bool keep_window = true;
  double pyramid_beta = 20.0;
  /// KVCache-Factory's PyramidKVCluster: prompts shorter than 2 (B - w) keep uniform budgets.
  bool pyramid_fallback = false;
  double ada_alpha = 0.2;
  AdaOptions ada;                        ///< Ada-KV's normalization and rounding (head_allocator ada)
  std::vector<std::int64_t> skip_layers;  ///< layers that keep every position (KVCache-Factory's L2Norm: 0 and 1)
  double cake_tau1 = 1.0, cake_tau2 = 1.0;
  double cake_max_ratio = 2.0;  ///< CAKE: a layer keeps at most this many times the mean budget
  KvecConfig kvec;
  // CriticalKV (defaults of kvpress CriticalKVPress): after allocation, each head keeps its first stage by the
  // scorer's scores and fills the rest by scores x ||W_o v||_1.
  bool critical = false;
  double critical_first_stage_ratio = 0.5;  ///< share of each head's budget (window included) of the first stage
  double critical_epsilon = 1e-4;           ///< (score + epsilon) * ||W_o v||_1
};

/// Reads every knob from `params` (defaults from `defaults`), rejecting unknown keys.
CompositionConfig read_composition(PolicyParams& params, CompositionConfig defaults);

/// Builds the composed policy `name` with `config` and the spec's budget.
std::unique_ptr<EvictionPolicy> make_composed_policy(const std::string& name, const BudgetSpec& budget,
                                                     const CompositionConfig& config);

/// The usual factory body: parse the spec's params over `defaults`, then build.
std::unique_ptr<EvictionPolicy> make_preset(const PolicySpec& spec, CompositionConfig defaults);

}  // namespace kvbench
