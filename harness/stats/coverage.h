#pragma once
// Unique-token coverage statistics of a compressed cache (kvec.md, "Coverage statistics"). With E the
// evictable prompt positions [0, T - w) and S(l, h) the positions of E kept by KV head h of layer l:
//   layer_coverage[l]  |U_h S(l,h)| / |E|
//   model_coverage     |U_{l,h} S(l,h)| / |E|
//   head_overlap[l]    1 - |U_h S(l,h)| / sum_h |S(l,h)|     (0 = no slot spent on another head's token)
//   vocab_coverage     |ids(U S)| / |ids(E)|                  (unique token types kept)
//   evidence_recall    share of evidence tokens kept by at least one head, per layer and over the model
// Computed with tensor ops on the cache's device. (Statistics of what a cache holds; no policy uses them.)

#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/engine/kv_cache.h"

namespace kvbench {

/// The window every command excludes unless told otherwise (SnapKV's observation window).
constexpr std::int64_t kDefaultCoverageWindow = 32;

/// One layer's kept prompt entries: original positions and owning KV head, flat (as LayerCache holds them).
struct LayerKeptEntries {
  at::Tensor positions;  ///< int64 [N]
  at::Tensor heads;      ///< int64 [N]
};

struct CoverageStats {
  std::vector<double> layer_coverage;
  std::vector<double> head_overlap;
  double model_coverage = 0;
  double vocab_coverage = 0;
  std::vector<double> layer_evidence_recall;  ///< empty when the sample marks no evidence
  std::optional<double> evidence_recall;

  double mean_layer_coverage() const;
  double mean_head_overlap() const;
  nlohmann::json to_json() const;
};

/// Statistics for a T-token prompt with window w (the last w positions are excluded from E).
/// `evidence` is an optional bool [T] mask of evidence tokens.
CoverageStats coverage_statistics(const std::vector<LayerKeptEntries>& layers, std::int64_t prompt_len,
                                  std::int64_t window, const at::Tensor& token_ids,
                                  const at::Tensor& evidence = at::Tensor());

/// The statistics of what `cache` kept of its prompt (its decode entries do not count), for the prompt's
/// int64 `token_ids` [T]: the one entry point of run, generate and coverage.
CoverageStats coverage_of(const KvCache& cache, std::int64_t window, const at::Tensor& token_ids,
                          const at::Tensor& evidence = at::Tensor());

}  // namespace kvbench
