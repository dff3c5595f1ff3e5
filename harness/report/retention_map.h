#pragma once
// Retention maps: which prompt positions an eviction policy kept, per layer and KV head, drawn as an SVG
// heatmap from the JSON that `kvbench generate --json` prints:
//   {"prompt_tokens": T, "policy": "snapkv(budget=128, ...)", "kept": [[[p0, p1, ...], ...], ...], ...}
// kept[l][h] = the sorted kept prompt positions (0-based, < T) of KV head h in layer l.
//
// Layout: one panel per KV head (layer 0 at the top, prompt position left to right), then, with several
// heads, an "any KV head" panel (the union). When T exceeds max_columns, positions are binned into columns of
// ceil(T / max_columns) positions and a cell's shade is the fraction of its positions kept. Beside each panel,
// one bar per layer gives the fraction of all T positions kept (for the union panel: the layer coverage).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench::report {

struct RetentionMapOptions {
  int head = -1;                   ///< draw only this KV head; -1: every head plus the union
  std::int64_t max_columns = 1000;  ///< at most this many position columns (1 .. 20000)
  double plot_width = 1000;        ///< target heatmap width in px (columns get a whole number of px each)
  std::string source = "generate output";  ///< names the input (a file path) in error messages
};

/// The validated input.
struct RetentionData {
  std::int64_t prompt_tokens = 0;
  std::string policy;
  std::vector<std::vector<std::vector<std::int64_t>>> kept;  ///< [layer][head] sorted, unique, in [0, T)
  int layers() const { return static_cast<int>(kept.size()); }
  int heads() const { return kept.empty() ? 0 : static_cast<int>(kept[0].size()); }
};

/// Validates `generate_output` and copies out what the map needs. Throws kvbench::Error naming `source`, the
/// field and the indices at fault: missing or ill-typed fields, a layer with a different number of heads,
/// positions outside [0, prompt_tokens), unsorted or duplicate positions.
RetentionData parse_retention(const nlohmann::json& generate_output, const std::string& source);

/// The binned map. Column c covers positions [c * bin_width, min((c + 1) * bin_width, T)).
struct RetentionGrid {
  std::int64_t bin_width = 1;
  std::int64_t columns = 0;
  std::vector<std::vector<std::vector<double>>> fraction;  ///< [head][layer][column]: kept share of the column
  std::vector<std::vector<double>> any_fraction;           ///< [layer][column]: share kept by at least one head
  std::vector<std::vector<double>> kept_share;             ///< [head][layer]: kept count / T
  std::vector<double> coverage;                            ///< [layer]: positions kept by any head / T
};

/// bin_width = ceil(T / max_columns), columns = ceil(T / bin_width).
RetentionGrid bin_retention(const RetentionData& data, std::int64_t max_columns);

/// The whole figure as an SVG document (validates first; see parse_retention).
std::string retention_map_svg(const nlohmann::json& generate_output, const RetentionMapOptions& options = {});

}  // namespace kvbench::report
