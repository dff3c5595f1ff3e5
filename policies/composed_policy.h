#pragma once
// A policy assembled from components.h's parts; every named baseline and K-VEC variant is one of these with
// different defaults (see the preset files and policy_list.h).

#include <memory>
#include <string>
#include <vector>

#include "policies/components.h"
#include "policies/registry.h"

namespace kvbench {

/// The parts of a composed policy and every knob they read (defaults: SnapKV's; presets change some).
struct CompositionConfig {
  ScorerKind scorer = ScorerKind::kWindow;
  LayerAllocatorKind layer_allocator = LayerAllocatorKind::kUniform;
  HeadAllocatorKind head_allocator = HeadAllocatorKind::kUniform;
  SelectorKind selector = SelectorKind::kTopk;
  ScoreConfig score;
  double pyramid_beta = 20.0;
  double ada_alpha = 0.2;
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
