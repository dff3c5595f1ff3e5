#pragma once
// The code bases a policy can follow (PolicySpec::reference): each selects, at once, every convention in which
// that code base's implementation of a policy differs from kvbench's (docs/policies.md, "Reference
// implementations"): observation window and whether it is always kept, pooling kernel and kind, GQA reduction
// and granularity, how window scores add up, and per policy its layer and head allocation rules. A policy's
// `params` still override each default.
//   kvbench          kvbench's own defaults
//   kvpress          NVIDIA/kvpress's presses (@8bb29b9c)
//   kvcache_factory  KVCache-Factory (@c97f9d70) as its run_longbench.py configures it
//   adakv            the Ada-KV repository (@efe4e2ee) as its LongBench scripts configure it
//   snapkv           the SnapKV repository as its LongBench configs (w32, k7, maxpool) set it

#include <array>
#include <initializer_list>

#include "policies/composed_policy.h"

namespace kvbench {

enum class ReferenceKind { kKvbench, kKvpress, kKvcacheFactory, kAdakv, kSnapkv };
template <> struct KindNames<ReferenceKind> {
  static constexpr const char* knob = "reference";
  static constexpr std::array<const char*, 5> names = {"kvbench", "kvpress", "kvcache_factory", "adakv", "snapkv"};
};

/// The reference `spec` names, checked against those that implement the policy (an error names the policy, the
/// reference and the references that do).
ReferenceKind policy_reference(const PolicySpec& spec, std::initializer_list<ReferenceKind> implemented);

/// What `reference` changes for every attention-scored policy over kvbench's defaults (CompositionConfig{}):
///   kvpress          window 64 ranked with max + 1 (not always kept), avgpool 5, mean over the group and over
///                    the window's queries, per KV head
///   kvcache_factory  window 8, maxpool 7, window sums, per query head (K/V repeated; kv_head: mean reduction)
///   adakv            window 32, maxpool 7, window means, per query head (gqa_support: mean reduction)
///   snapkv           window 32, maxpool 7, window sums, per query head
CompositionConfig reference_defaults(ReferenceKind reference);

/// policy_reference and reference_defaults in one: the defaults a preset starts from.
CompositionConfig reference_defaults(const PolicySpec& spec, std::initializer_list<ReferenceKind> implemented);

/// The defaults of a kvpress press that scores every position by itself (no observation window, no pooling:
/// Expected Attention, KeyDiff, LagKV): kvbench's, which still keeps its window of 32, or kvpress's (window 0).
CompositionConfig windowless_press_defaults(const PolicySpec& spec, ScorerKind scorer);

/// The cache granularity `reference` stores by default (query heads for KVCache-Factory, Ada-KV and SnapKV).
GranularityKind reference_granularity(ReferenceKind reference);

}  // namespace kvbench
