#include "harness/report/retention_map.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "harness/common/error.h"
#include "harness/report/svg.h"

namespace kvbench::report {

namespace {

constexpr std::int64_t kMaxColumnsLimit = 20000;

// "string \"abc\"", "number 1.5", "array" ...: enough to see what was found instead.
std::string describe(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(value.type_name()) + " " + text;
}

std::string idx(int l) { return "kept[" + std::to_string(l) + "]"; }
std::string idx(int l, int h) { return idx(l) + "[" + std::to_string(h) + "]"; }
std::string idx(int l, int h, std::size_t i) { return idx(l, h) + "[" + std::to_string(i) + "]"; }

}  // namespace

RetentionData parse_retention(const nlohmann::json& j, const std::string& source) {
  const std::string& src = source;
  KV_CHECK(j.is_object(), src, ": expected a JSON object (the output of kvbench generate --json), got ",
           std::string(j.type_name()));
  RetentionData data;

  KV_CHECK(j.contains("prompt_tokens"), src, ": missing field 'prompt_tokens'");
  const auto& t = j["prompt_tokens"];
  const bool positive =
      t.is_number_unsigned() ? t.get<std::uint64_t>() > 0 : t.is_number_integer() && t.get<std::int64_t>() > 0;
  KV_CHECK(positive, src, ": field 'prompt_tokens' must be a positive integer, got ", describe(t));
  KV_CHECK(!t.is_number_unsigned() || t.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX), src,
           ": field 'prompt_tokens' is too large (", t.dump(), ")");
  data.prompt_tokens = t.get<std::int64_t>();
  const std::int64_t T = data.prompt_tokens;

  KV_CHECK(j.contains("policy"), src, ": missing field 'policy'");
  KV_CHECK(j["policy"].is_string(), src, ": field 'policy' must be a string, got ", describe(j["policy"]));
  data.policy = j["policy"].get<std::string>();

  KV_CHECK(j.contains("kept"), src,
           ": missing field 'kept' (kept prompt positions per layer and KV head, printed by kvbench generate --json)");
  const auto& kept = j["kept"];
  KV_CHECK(kept.is_array(), src, ": field 'kept' must be an array with one entry per layer, got ", describe(kept));
  KV_CHECK(!kept.empty(), src, ": field 'kept' is empty (no layers)");
  data.kept.resize(kept.size());
  for (int l = 0; l < static_cast<int>(kept.size()); ++l) {
    const auto& layer = kept[l];
    KV_CHECK(layer.is_array(), src, ": ", idx(l), " must be an array with one entry per KV head, got ",
             describe(layer));
    KV_CHECK(!layer.empty(), src, ": ", idx(l), " is empty (no KV heads)");
    KV_CHECK(layer.size() == kept[0].size(), src, ": ", idx(l), " has ", layer.size(), " KV heads but kept[0] has ",
             kept[0].size());
    data.kept[l].resize(layer.size());
    for (int h = 0; h < static_cast<int>(layer.size()); ++h) {
      const auto& positions = layer[h];
      KV_CHECK(positions.is_array(), src, ": ", idx(l, h), " must be an array of prompt positions, got ",
               describe(positions));
      auto& out = data.kept[l][h];
      out.reserve(positions.size());
      for (std::size_t i = 0; i < positions.size(); ++i) {
        const auto& p = positions[i];
        KV_CHECK(p.is_number_integer(), src, ": ", idx(l, h, i), " must be an integer position, got ", describe(p));
        const bool too_big = p.is_number_unsigned() && p.get<std::uint64_t>() >= static_cast<std::uint64_t>(T);
        const std::int64_t v = too_big ? T : p.get<std::int64_t>();
        KV_CHECK(!too_big && v >= 0 && v < T, src, ": ", idx(l, h, i), " = ", p.dump(),
                 " is outside [0, prompt_tokens = ", T, ")");
        if (i > 0) {
          const std::int64_t prev = out.back();
          KV_CHECK(v != prev, src, ": ", idx(l, h, i), " = ", v, " duplicates ", idx(l, h, i - 1),
                   " (positions must be unique)");
          KV_CHECK(v > prev, src, ": ", idx(l, h, i), " = ", v, " is smaller than ", idx(l, h, i - 1), " = ", prev,
                   " (positions must be sorted ascending)");
        }
        out.push_back(v);
      }
    }
  }
  return data;
}

RetentionGrid bin_retention(const RetentionData& data, std::int64_t max_columns) {
  KV_CHECK(max_columns >= 1 && max_columns <= kMaxColumnsLimit, "max columns must be in [1, ", kMaxColumnsLimit,
           "], got ", max_columns);
  const std::int64_t T = data.prompt_tokens;
  KV_CHECK(T >= 1, "retention map: prompt_tokens must be positive");
  RetentionGrid g;
  g.bin_width = (T + max_columns - 1) / max_columns;
  g.columns = (T + g.bin_width - 1) / g.bin_width;
  const auto bin_size = [&](std::int64_t c) { return std::min(g.bin_width, T - c * g.bin_width); };
  const int L = data.layers(), H = data.heads();
  const auto shares = [&](const std::vector<std::int64_t>& positions) {
    std::vector<double> counts(static_cast<std::size_t>(g.columns), 0.0);
    for (const std::int64_t p : positions) counts[static_cast<std::size_t>(p / g.bin_width)] += 1;
    for (std::int64_t c = 0; c < g.columns; ++c) counts[c] /= static_cast<double>(bin_size(c));
    return counts;
  };
  g.fraction.assign(H, std::vector<std::vector<double>>(L));
  g.kept_share.assign(H, std::vector<double>(L));
  g.any_fraction.resize(L);
  g.coverage.resize(L);
  for (int l = 0; l < L; ++l) {
    std::vector<std::int64_t> any;
    for (int h = 0; h < H; ++h) {
      const auto& positions = data.kept[l][h];
      g.fraction[h][l] = shares(positions);
      g.kept_share[h][l] = static_cast<double>(positions.size()) / static_cast<double>(T);
      any.insert(any.end(), positions.begin(), positions.end());
    }
    std::sort(any.begin(), any.end());
    any.erase(std::unique(any.begin(), any.end()), any.end());
    g.any_fraction[l] = shares(any);
    g.coverage[l] = static_cast<double>(any.size()) / static_cast<double>(T);
  }
  return g;
}

namespace {

// Layout, in px.
constexpr double kMarginLeft = 78;   // layer tick labels and the rotated "layer" title
constexpr double kMarginRight = 24;
constexpr double kTitleHeight = 58;  // title and subtitle
constexpr double kPanelLabel = 18;   // "KV head h" above each panel
constexpr double kAxisHeight = 26;   // position ticks and labels under each panel
constexpr double kPanelGap = 12;
constexpr double kXTitle = 18;       // "prompt position" under the last panel
constexpr double kBarGap = 34, kBarWidth = 100;       // per-layer kept share
constexpr double kColorBarGap = 34, kColorBarWidth = 14, kColorBarLabels = 52;

struct Panel {
  std::string label, bar_label;
  const std::vector<std::vector<double>>* fraction;  // [layer][column]
  const std::vector<double>* share;                  // [layer]
};

std::string truncate_to(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars || max_chars < 4) return text;
  std::size_t cut = max_chars - 1;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return text.substr(0, cut) + "\xE2\x80\xA6";                                       // …
}

std::string plural(std::int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

std::string retention_map_svg(const nlohmann::json& generate_output, const RetentionMapOptions& options) {
  const RetentionData data = parse_retention(generate_output, options.source);
  const int L = data.layers(), H = data.heads();
  KV_CHECK(options.head >= -1 && options.head < H, options.source, ": KV head ", options.head,
           " is out of range: the input has ", H, " KV head(s) (0..", H - 1, ")");
  KV_CHECK(options.plot_width >= 50 && options.plot_width <= 100000, "retention map: plot width must be in [50, 100000]");
  const RetentionGrid grid = bin_retention(data, options.max_columns);
  const std::int64_t T = data.prompt_tokens;

  std::vector<Panel> panels;
  for (int h = 0; h < H; ++h) {
    if (options.head >= 0 && h != options.head) continue;
    panels.push_back({"KV head " + std::to_string(h), "kept / T", &grid.fraction[h], &grid.kept_share[h]});
  }
  if (options.head < 0 && H > 1) {
    panels.push_back({"any KV head (layer coverage)", "coverage", &grid.any_fraction, &grid.coverage});
  }

  // Whole px per column keeps cell edges on pixel boundaries (no seams in raster renders).
  const double col_px = std::max(1.0, std::floor(options.plot_width / static_cast<double>(grid.columns)));
  const double row_px = std::clamp(std::round(160.0 / L), 4.0, 24.0);
  const double plot_w = static_cast<double>(T) / static_cast<double>(grid.bin_width) * col_px;
  const double panel_h = row_px * L;
  const double panel_stride = kPanelLabel + panel_h + kAxisHeight + kPanelGap;
  const double x0 = kMarginLeft;
  const double bar_x = x0 + plot_w + kBarGap;
  const double cbar_x = bar_x + kBarWidth + kColorBarGap;
  const double width = cbar_x + kColorBarWidth + kColorBarLabels + kMarginRight;
  const double first_top = kTitleHeight + kPanelLabel;
  const double stack_h = panel_stride * static_cast<double>(panels.size()) - kPanelLabel - kAxisHeight - kPanelGap;
  const double cbar_h = std::clamp(stack_h, 96.0, 160.0);  // 96: room for its rotated title
  const double height = std::max(kTitleHeight + panel_stride * static_cast<double>(panels.size()) + kXTitle,
                                 first_top + cbar_h + 12);

  SvgCanvas svg(width, height);
  svg.rect(0, 0, width, height, "#ffffff");
  const ColorMap cmap = ColorMap::ylgnbu();

  // Title and subtitle.
  TextStyle title;
  title.size = 15;
  title.bold = true;
  const auto max_chars = [&](double size) { return static_cast<std::size_t>((width - 2 * 16) / (0.6 * size)); };
  svg.text(16, 24, truncate_to("Retention map: " + data.policy, max_chars(title.size)), title);
  TextStyle subtitle;
  subtitle.size = 11;
  subtitle.color = "#555555";
  const std::string per_column = grid.bin_width == 1 ? "1 column = 1 position"
                                                     : "1 column = " + std::to_string(grid.bin_width) +
                                                           " positions, shade = fraction kept";
  svg.text(16, 44,
           truncate_to("T = " + std::to_string(T) + " prompt tokens \xC2\xB7 " + plural(L, "layer") + " \xC3\x97 " +
                           plural(H, "KV head") + " \xC2\xB7 " + per_column,
                       max_chars(subtitle.size)),
           subtitle);

  const LinearScale xpos{0, static_cast<double>(T), x0, x0 + plot_w};
  const auto xticks = nice_ticks(0, static_cast<double>(T), std::max(2, static_cast<int>(plot_w / 110)), 1);
  // The bars share one scale, up to a 1-2-5 multiple just above the largest share shown (shares are small).
  double max_share = 0;
  for (const Panel& panel : panels) {
    for (const double s : *panel.share) max_share = std::max(max_share, s);
  }
  const double bar_step = max_share > 0 ? nice_step(max_share, 2) : 0.5;
  const double bar_max = max_share > 0 ? std::min(1.0, std::ceil(max_share / bar_step - 1e-9) * bar_step) : 1.0;
  const LinearScale xbar{0, bar_max, bar_x, bar_x + kBarWidth};
  const auto bar_ticks = nice_ticks(0, bar_max, 2);
  const std::string zero_color = cmap.hex(0);
  const std::string bar_color = cmap.hex(0.8);

  for (std::size_t pi = 0; pi < panels.size(); ++pi) {
    const Panel& panel = panels[pi];
    const double top = kTitleHeight + panel_stride * static_cast<double>(pi) + kPanelLabel;
    TextStyle label;
    label.size = 12;
    label.bold = true;
    svg.text(x0, top - 5, panel.label, label);
    TextStyle bar_label;
    bar_label.size = 10;
    bar_label.color = "#444444";
    bar_label.anchor = TextStyle::Anchor::kMiddle;
    svg.text(bar_x + kBarWidth / 2, top - 5, panel.bar_label, bar_label);

    // Heatmap: the background is the 0 color; each row draws runs of equal nonzero color as one rect.
    svg.begin_group();
    svg.rect(x0, top, plot_w, panel_h, zero_color);
    for (int l = 0; l < L; ++l) {
      const auto& row = (*panel.fraction)[l];
      const double y = top + row_px * l;
      std::int64_t c = 0;
      while (c < grid.columns) {
        if (row[c] <= 0) {
          ++c;
          continue;
        }
        const std::string color = cmap.hex(row[c]);
        std::int64_t end = c + 1;
        while (end < grid.columns && row[end] > 0 && cmap.hex(row[end]) == color) ++end;
        const double xa = xpos(static_cast<double>(c * grid.bin_width));
        const double xb = xpos(static_cast<double>(std::min(end * grid.bin_width, T)));
        svg.rect(xa, y, xb - xa, row_px, color);
        c = end;
      }
    }
    svg.rect(x0, top, plot_w, panel_h, "none", "#888888", 0.5);
    svg.end_group();

    const LinearScale ylayer{-0.5, L - 0.5, top, top + panel_h};
    axis_left(svg, ylayer, x0, nice_ticks(0, L - 1, std::max(2, static_cast<int>(panel_h / 18)), 1), "layer", 30);
    const bool last = pi + 1 == panels.size();
    axis_bottom(svg, xpos, top + panel_h, xticks, last ? "prompt position" : "");

    // Per-layer share of all T positions.
    svg.rect(bar_x, top, kBarWidth, panel_h, "#f5f5f5", "#cccccc", 0.5);
    for (const double t : bar_ticks) svg.line(xbar(t), top, xbar(t), top + panel_h, "#dddddd", 0.5);
    TextStyle value;
    value.size = std::min(10.0, row_px - 2);
    value.valign = TextStyle::VAlign::kMiddle;
    value.color = "#333333";
    for (int l = 0; l < L; ++l) {
      const double share = (*panel.share)[l];
      const double inset = row_px >= 8 ? 1.5 : 0.5;
      if (share > 0) svg.rect(bar_x, top + row_px * l + inset, xbar(share) - bar_x, row_px - 2 * inset, bar_color);
      if (row_px >= 12) {  // room for the number
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.1f%%", 100 * share);
        TextStyle v = value;  // inside a long bar, after a short one
        const bool inside = share > 0.6 * bar_max;
        if (inside) v.anchor = TextStyle::Anchor::kEnd, v.color = "#ffffff";
        svg.text(xbar(share) + (inside ? -3 : 3), top + row_px * (l + 0.5), pct, v);
      }
    }
    axis_bottom(svg, xbar, top + panel_h, bar_ticks, "");
  }

  color_bar(svg, cmap, cbar_x, first_top, kColorBarWidth, cbar_h, "fraction kept");
  return svg.str();
}

}  // namespace kvbench::report
