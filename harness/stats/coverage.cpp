#include "harness/stats/coverage.h"

#include <numeric>

#include "harness/common/error.h"

namespace kvbench {
namespace {
double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
}  // namespace

double CoverageStats::mean_layer_coverage() const { return mean(layer_coverage); }
double CoverageStats::mean_head_overlap() const { return mean(head_overlap); }

nlohmann::json CoverageStats::to_json() const {
  nlohmann::json j = {{"layer_coverage", layer_coverage},
                      {"head_overlap", head_overlap},
                      {"mean_layer_coverage", mean_layer_coverage()},
                      {"mean_head_overlap", mean_head_overlap()},
                      {"model_coverage", model_coverage},
                      {"vocab_coverage", vocab_coverage}};
  if (evidence_recall) {
    j["evidence_recall"] = *evidence_recall;
    j["layer_evidence_recall"] = layer_evidence_recall;
  }
  return j;
}

CoverageStats coverage_statistics(const std::vector<LayerKeptEntries>& layers, std::int64_t T, std::int64_t window,
                                  const at::Tensor& token_ids, const at::Tensor& evidence) {
  const std::int64_t E = std::max<std::int64_t>(T - window, 0);
  CoverageStats out;
  if (layers.empty() || E == 0) return out;
  const auto dev = layers[0].positions.device();
  const auto bool_opts = at::TensorOptions().dtype(at::kBool).device(dev);
  at::Tensor evidence_e;
  double evidence_count = 0;
  if (evidence.defined()) {
    KV_CHECK(evidence.numel() == T, "evidence mask has ", evidence.numel(), " entries for ", T, " prompt tokens");
    evidence_e = evidence.to(dev, at::kBool).narrow(0, 0, E);
    evidence_count = evidence_e.sum().item<double>();
  }
  at::Tensor model = at::zeros({E}, bool_opts);
  for (const auto& layer : layers) {
    const at::Tensor in_e = layer.positions < E;
    const at::Tensor pos = layer.positions.masked_select(in_e);
    at::Tensor union_mask = at::zeros({E}, bool_opts);
    union_mask.index_fill_(0, pos, true);
    const double unique = union_mask.sum().item<double>();
    const double slots = static_cast<double>(pos.numel());
    out.layer_coverage.push_back(unique / static_cast<double>(E));
    out.head_overlap.push_back(slots > 0 ? 1.0 - unique / slots : 0.0);
    if (evidence_count > 0)
      out.layer_evidence_recall.push_back(union_mask.logical_and(evidence_e).sum().item<double>() / evidence_count);
    model.logical_or_(union_mask);
  }
  out.model_coverage = model.sum().item<double>() / static_cast<double>(E);
  const at::Tensor ids = token_ids.to(dev).narrow(0, 0, E);
  out.vocab_coverage = static_cast<double>(std::get<0>(at::_unique(ids.masked_select(model))).numel()) /
                       static_cast<double>(std::get<0>(at::_unique(ids)).numel());
  if (evidence_count > 0) out.evidence_recall = model.logical_and(evidence_e).sum().item<double>() / evidence_count;
  return out;
}

CoverageStats coverage_of(const KvCache& cache, std::int64_t window, const at::Tensor& token_ids,
                          const at::Tensor& evidence) {
  std::vector<LayerKeptEntries> entries;
  for (const auto& layer : cache.layers) entries.push_back({layer.prompt_positions(), layer.prompt_heads()});
  return coverage_statistics(entries, cache.prompt_len, window, token_ids, evidence);
}

}  // namespace kvbench
