#include "harness/report/report_plots.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <iomanip>
#include <set>
#include <sstream>
#include <tuple>

#include "harness/common/error.h"
#include "datasets/subset.h"
#include "harness/common/log.h"
#include "harness/report/svg.h"

namespace kvbench::report {

namespace {

// --- style ------------------------------------------------------------------------------------------------

// Okabe-Ito (colorblind-safe) without its yellow, which vanishes on white; then a brown.
const std::vector<std::string> kPalette = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                           "#e69f00", "#56b4e9", "#000000", "#8c564b"};
constexpr int kMarkerKinds = 8;
const std::string kFullColor = "#4d4d4d";
const std::string kGridColor = "#e6e6e6";

constexpr double kTitleSize = 16, kSubtitleSize = 12, kTickSize = 12, kLegendSize = 12, kLegendRow = 20;
constexpr double kMarginLeft = 76, kMarginTop = 70, kMarginBottom = 58, kMarginRight = 18;
constexpr double kPlotWidth = 520, kPlotHeight = 330;
constexpr double kLegendGap = 22, kLegendSample = 18, kLegendTextGap = 6;  // svg.h's legend: 18 px sample, text at +24

double text_width(const std::string& text, double size) {
  std::size_t chars = 0;
  for (const char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return 0.62 * size * static_cast<double>(chars);
}

std::string truncate_to_width(const std::string& text, double size, double width) {
  if (text_width(text, size) <= width) return text;
  std::string out = text;
  while (!out.empty() && text_width(out + "\xE2\x80\xA6", size) > width) {
    out.pop_back();
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
  }
  return out + "\xE2\x80\xA6";
}

// Marker shapes with the canvas's primitives: filled square, filled diamond, open square, open diamond, ×, +,
// open triangle, open circle (a 16-gon).
void marker(SvgCanvas& svg, int kind, double x, double y, double size, const std::string& color) {
  const double h = size / 2;
  switch (kind % kMarkerKinds) {
    case 0: svg.rect(x - h, y - h, size, size, color); break;
    case 1:
    case 3: {
      const double s = size * 0.8;
      svg.begin_group(svg_translate(x, y) + " rotate(45)");
      if (kind % kMarkerKinds == 1) {
        svg.rect(-s / 2, -s / 2, s, s, color);
      } else {
        svg.rect(-s / 2, -s / 2, s, s, "#ffffff", color, 1.6);
      }
      svg.end_group();
      break;
    }
    case 2: svg.rect(x - h, y - h, size, size, "#ffffff", color, 1.6); break;
    case 4:
      svg.line(x - h, y - h, x + h, y + h, color, 2.2);
      svg.line(x - h, y + h, x + h, y - h, color, 2.2);
      break;
    case 5:
      svg.line(x - h * 1.2, y, x + h * 1.2, y, color, 2.2);
      svg.line(x, y - h * 1.2, x, y + h * 1.2, color, 2.2);
      break;
    case 6: {
      const double r = h * 1.25;
      svg.polyline({{x, y - r}, {x + r * 0.866, y + r * 0.5}, {x - r * 0.866, y + r * 0.5}, {x, y - r}}, color, 1.6);
      break;
    }
    default: {
      std::vector<Point> pts;
      const double r = h * 1.05;
      for (int i = 0; i <= 16; ++i) {
        const double a = 2 * 3.14159265358979323846 * i / 16;
        pts.push_back({x + r * std::cos(a), y + r * std::sin(a)});
      }
      svg.polyline(pts, color, 1.6);
    }
  }
}

// A horizontal dashed line from x1 to x2 (the canvas has no stroke-dasharray).
void dashed_hline(SvgCanvas& svg, double x1, double x2, double y, const std::string& color, double width,
                  double on = 7, double off = 4) {
  for (double x = x1; x < x2; x += on + off) svg.line(x, y, std::min(x + on, x2), y, color, width);
}

struct Series {
  std::string label;
  std::vector<Point> points;  ///< data coordinates, sorted by x
  bool dashed_level = false;  ///< full cache: a horizontal line at points[0].y
  int color = -1, mark = -1;  ///< palette entry and marker shape; -1: by position in the series list
};

const std::string& color_of(const Series& s, std::size_t i) {
  return kPalette[(s.color >= 0 ? static_cast<std::size_t>(s.color) : i) % kPalette.size()];
}
// Past the palette's length, the marker shifts so that (color, marker) pairs stay distinct.
int mark_of(const Series& s, std::size_t i) { return s.mark >= 0 ? s.mark : static_cast<int>(i + i / kPalette.size()); }

// The frame every figure shares: title, subtitle, axes with grid lines, and the legend on the right.
struct Frame {
  double width = 0, height = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0, legend_x = 0;
};

Frame make_frame(const std::vector<Series>& series) {
  double legend_w = 0;
  for (const auto& s : series) legend_w = std::max(legend_w, text_width(s.label, kLegendSize));
  legend_w = std::min(legend_w, 260.0) + kLegendSample + kLegendTextGap;
  Frame f;
  f.x0 = kMarginLeft;
  f.x1 = f.x0 + kPlotWidth;
  f.y0 = kMarginTop;
  f.y1 = f.y0 + kPlotHeight;
  f.legend_x = f.x1 + kLegendGap;
  f.width = f.legend_x + legend_w + kMarginRight;
  f.height = std::max(f.y1 + kMarginBottom, f.y0 + kLegendRow * static_cast<double>(series.size()) + 20);
  return f;
}

void draw_titles(SvgCanvas& svg, const Frame& f, const std::string& title, const std::string& subtitle) {
  TextStyle t;
  t.size = kTitleSize;
  t.bold = true;
  svg.text(f.x0 - 56, 26, truncate_to_width(title, kTitleSize, f.width - f.x0 + 40), t);
  TextStyle s;
  s.size = kSubtitleSize;
  s.color = "#555555";
  svg.text(f.x0 - 56, 46, truncate_to_width(subtitle, kSubtitleSize, f.width - f.x0 + 40), s);
}

// y domain: the values padded by 8% and widened to whole ticks; never below 0 when no value is.
std::pair<LinearScale, std::vector<double>> y_axis(const std::vector<double>& values, const Frame& f, double floor0,
                                                   double ceil1 = INFINITY) {
  double lo = *std::min_element(values.begin(), values.end());
  double hi = *std::max_element(values.begin(), values.end());
  double span = hi - lo;
  if (span <= 0) span = std::max(std::abs(hi) * 0.1, 0.05);
  lo -= 0.08 * span;
  hi += 0.08 * span;
  if (lo < floor0 && *std::min_element(values.begin(), values.end()) >= floor0) lo = floor0;
  if (hi > ceil1 && *std::max_element(values.begin(), values.end()) <= ceil1) hi = ceil1;
  const double step = nice_step(hi - lo, 6);
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  return {LinearScale{lo, hi, f.y1, f.y0}, nice_ticks(lo, hi, 6)};
}

// Dash patterns (on, off) of the full-cache lines, one per run.
const std::vector<std::pair<double, double>> kDashes = {{7, 4}, {2, 3}, {14, 4}, {4, 6}};

void draw_legend(SvgCanvas& svg, const Frame& f, const std::vector<Series>& series) {
  std::vector<LegendEntry> entries;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const std::string label = truncate_to_width(s.label, kLegendSize, 260);
    // Dashed samples are drawn below: svg.h's legend draws solid lines only.
    entries.push_back({label, s.dashed_level ? "none" : color_of(s, i), true});
  }
  const double top = f.y0;
  legend(svg, f.legend_x, top, entries, kLegendSize, kLegendRow);
  std::size_t level = 0;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const double cy = top + kLegendRow * (static_cast<double>(i) + 0.5);
    if (series[i].dashed_level) {
      const auto [on, off] = kDashes[level++ % kDashes.size()];
      dashed_hline(svg, f.legend_x, f.legend_x + kLegendSample, cy, kFullColor, 2, std::min(on, 6.0), off);
    } else {
      marker(svg, mark_of(series[i], i), f.legend_x + kLegendSample / 2, cy, 7, color_of(series[i], i));
    }
  }
}

void draw_series(SvgCanvas& svg, const Frame& f, const std::vector<Series>& series, const LinearScale& x,
                 const LinearScale& y, bool markers, double marker_size) {
  // Level lines first, so that data lines and markers stay on top.
  std::size_t level = 0;
  for (const auto& s : series) {
    if (!s.dashed_level) continue;
    const auto [on, off] = kDashes[level++ % kDashes.size()];
    dashed_hline(svg, f.x0, f.x1, y(s.points[0].y), kFullColor, 2, on, off);
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    if (s.dashed_level) continue;
    const std::string& color = color_of(s, i);
    std::vector<Point> px;
    for (const auto& p : s.points) px.push_back({x(p.x), y(p.y)});
    if (px.size() >= 2) svg.polyline(px, color, 2.2);
    if (markers || px.size() == 1) {
      for (const auto& p : px) marker(svg, mark_of(s, i), p.x, p.y, marker_size, color);
    }
  }
}

void grid_and_axes(SvgCanvas& svg, const Frame& f, const LinearScale& x, const std::vector<double>& xticks,
                   const LinearScale& y, const std::vector<double>& yticks, const std::string& x_title,
                   const std::string& y_title, bool x_labels) {
  for (const double t : yticks) svg.line(f.x0, y(t), f.x1, y(t), kGridColor, 1);
  for (const double t : xticks) svg.line(x(t), f.y0, x(t), f.y1, kGridColor, 1);
  AxisStyle style;
  style.font_size = kTickSize;
  style.tick_length = 5;
  AxisStyle xs = style;
  xs.labels = x_labels;
  axis_bottom(svg, x, f.y1, xticks, x_title, xs);
  axis_left(svg, y, f.x0, yticks, y_title, 50, style);
}

double mean_score(const ReportVariant& v) {
  double sum = 0;
  for (const auto& [subset, score] : v.scores) sum += score;
  return sum / static_cast<double>(v.scores.size());
}

bool selected(const ReportVariant& v, const ReportPlotOptions& options) {
  return options.variants.empty() ||
         std::find(options.variants.begin(), options.variants.end(), v.name) != options.variants.end();
}

void check_variant_filter(const std::vector<ReportFile>& reports, const ReportPlotOptions& options) {
  for (const auto& name : options.variants) {
    bool found = false;
    for (const auto& r : reports) found = found || r.find(name) != nullptr;
    KV_CHECK(found, "--variant ", name, ": no report has a variant of that name");
  }
}

std::string runs_text(const std::vector<ReportFile>& reports) {
  std::vector<std::string> runs;
  for (const auto& r : reports) {
    if (std::find(runs.begin(), runs.end(), r.run) == runs.end()) runs.push_back(r.run);
  }
  std::string out = runs.size() == 1 ? "run " : "runs ";
  for (std::size_t i = 0; i < runs.size(); ++i) out += (i ? ", " : "") + runs[i];
  return out;
}

std::string params_text(const nlohmann::json& params) {
  if (!params.is_object() || params.empty()) return "defaults";
  std::string out;
  for (auto it = params.begin(); it != params.end(); ++it) {
    out += (out.empty() ? "" : ", ") + it.key() + "=" +
           (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  return out;
}

std::string power_of_two_label(int k) {
  if (k >= 0 && k < 62) return std::to_string(1LL << k);
  return "2^" + std::to_string(k);
}

}  // namespace

std::string score_vs_budget_svg(const std::vector<ReportFile>& reports, const ReportPlotOptions& options) {
  KV_CHECK(!reports.empty(), "plot: no report given");
  check_variant_filter(reports, options);
  const bool multi_run = reports.size() > 1;

  // Which (run, policy) pairs come with more than one params set: those lines are told apart by params.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> params_sets;
  for (const auto& r : reports) {
    for (const auto& v : r.variants) {
      if (!v.is_full() && selected(v, options)) params_sets[{r.path, v.policy}].insert(v.params.dump());
    }
  }

  std::vector<Series> lines, levels;
  std::map<std::string, std::size_t> line_of;         // series key → index in lines
  std::map<std::string, std::size_t> color_of_label;  // several runs: one color per policy line
  static const std::vector<int> kRunMarks = {0, 3, 4, 6, 1, 2, 5, 7};
  std::size_t run_index = 0;
  bool resolved_budgets = false;
  for (std::size_t ri = 0; ri < reports.size(); ++ri) {
    const ReportFile& r = reports[ri];
    run_index = ri;
    for (const auto& v : r.variants) {
      if (!selected(v, options)) continue;
      double value = 0;
      if (options.subset.empty()) {
        if (v.scores.empty()) {
          log::warn(r.path, ": variant ", v.name, " has no scores; left out of the plot");
          continue;
        }
        value = mean_score(v);
      } else {
        const auto it = v.scores.find(options.subset);
        if (it == v.scores.end()) {
          log::warn(r.path, ": variant ", v.name, " has no ", options.subset, " score; left out of the plot");
          continue;
        }
        value = it->second;
      }
      const std::string suffix = multi_run ? " \xC2\xB7 " + r.run : "";
      if (v.is_full()) {
        levels.push_back({"full cache (" + tick_label(value, 0.01) + ")" + suffix, {{0, value}}, true});
        continue;
      }
      const auto x = v.budget_for_axis();
      if (!x || *x <= 0) {
        log::warn(r.path, ": variant ", v.name, " has budget ", budget_label(v.budget),
                  " and no budget_tokens.mean; left out of the plot");
        continue;
      }
      // Budgets set as eviction rates or bytes resolve per sample: their own line, never joined to tokens.
      const bool resolved = !v.token_budget();
      resolved_budgets = resolved_budgets || resolved;
      std::string label = v.policy;
      std::vector<std::string> qualifiers;
      if (params_sets[{r.path, v.policy}].size() > 1) qualifiers.push_back(params_text(v.params));
      if (resolved) qualifiers.push_back(v.budget.is_object() && v.budget.size() == 1 ? v.budget.begin().key() : "resolved");
      for (std::size_t q = 0; q < qualifiers.size(); ++q) label += (q ? ", " : " (") + qualifiers[q];
      if (!qualifiers.empty()) label += ")";
      const std::string key = r.path + "\n" + label;
      auto [it, inserted] = line_of.emplace(key, lines.size());
      if (inserted) {
        Series line{label + suffix, {}, false};
        if (multi_run) {  // color = the policy line, marker = the run
          line.color = static_cast<int>(color_of_label.emplace(label, color_of_label.size()).first->second);
          line.mark = kRunMarks[run_index % kRunMarks.size()];
        }
        lines.push_back(line);
      }
      lines[it->second].points.push_back({*x, value});
    }
  }
  KV_CHECK(!lines.empty() || !levels.empty(), "plot: no variant has ",
           options.subset.empty() ? "scores" : "a " + options.subset + " score", " and a budget to plot");
  for (auto& s : lines) {
    std::stable_sort(s.points.begin(), s.points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
  }
  std::vector<Series> series = lines;
  series.insert(series.end(), levels.begin(), levels.end());

  const Frame f = make_frame(series);
  SvgCanvas svg(f.width, f.height);
  svg.rect(0, 0, f.width, f.height, "#ffffff");

  // x: log2 of the budget; whole powers of two as ticks.
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : lines) {
    for (const auto& p : s.points) lo = std::min(lo, std::log2(p.x)), hi = std::max(hi, std::log2(p.x));
  }
  if (!std::isfinite(lo)) lo = 7, hi = 10;  // only full-cache lines: any budget range
  if (hi - lo < 1) lo -= 0.5, hi += 0.5;
  lo -= 0.3;
  hi += 0.3;
  const LinearScale xs{lo, hi, f.x0, f.x1};
  std::vector<double> xticks;
  const int kstep = hi - lo > 9 ? 2 : 1;
  for (int k = static_cast<int>(std::ceil(lo)); k <= static_cast<int>(std::floor(hi)); ++k) {
    if (k % kstep == 0) xticks.push_back(k);
  }

  std::vector<double> values;
  for (const auto& s : series) {
    for (const auto& p : s.points) values.push_back(p.y);
  }
  const auto [ys, yticks] = y_axis(values, f, 0);
  std::vector<Series> logged = series;
  for (auto& s : logged) {
    if (s.dashed_level) continue;
    for (auto& p : s.points) p.x = std::log2(p.x);
  }

  std::vector<std::string> subsets;
  for (const auto& r : reports) subsets.insert(subsets.end(), r.subsets.begin(), r.subsets.end());
  // A synthetic-suite run is not titled "LongBench": the title names the suite its subsets come from.
  const std::string what = options.subset.empty() ? suite_of(subsets) + " average" : options.subset;
  const std::string title = !options.title.empty() ? options.title : what + " score vs KV cache budget";
  std::string subtitle = runs_text(reports);
  if (resolved_budgets) subtitle += " \xC2\xB7 eviction-rate / byte budgets at their mean resolved size";
  draw_titles(svg, f, title, subtitle);
  grid_and_axes(svg, f, xs, xticks, ys, yticks, "KV budget (tokens per KV head per layer, log scale)",
                what + " score", /*x_labels=*/false);
  TextStyle tl;
  tl.size = kTickSize;
  tl.anchor = TextStyle::Anchor::kMiddle;
  tl.valign = TextStyle::VAlign::kTop;
  tl.color = "#444444";
  for (const double k : xticks) svg.text(xs(k), f.y1 + 7, power_of_two_label(static_cast<int>(k)), tl);
  draw_series(svg, f, logged, xs, ys, /*markers=*/true, 8);
  draw_legend(svg, f, series);
  return svg.str();
}

std::string coverage_vs_layer_svg(const std::vector<ReportFile>& reports, const ReportPlotOptions& options) {
  KV_CHECK(!reports.empty(), "plot: no report given");
  check_variant_filter(reports, options);
  const bool multi_run = reports.size() > 1;
  std::vector<Series> series;
  std::size_t layers = 0;
  for (const auto& r : reports) {
    for (const auto& v : r.variants) {
      if (!selected(v, options) || v.is_full()) continue;
      if (!v.coverage || v.coverage->layer_coverage_curve.empty()) {
        log::warn(r.path, ": variant ", v.name, " has no coverage.layer_coverage_curve; left out of the plot");
        continue;
      }
      Series s;
      s.label = v.name + (multi_run ? " \xC2\xB7 " + r.run : "");
      const auto& curve = v.coverage->layer_coverage_curve;
      for (std::size_t l = 0; l < curve.size(); ++l) s.points.push_back({static_cast<double>(l), curve[l]});
      layers = std::max(layers, curve.size());
      series.push_back(std::move(s));
    }
  }
  KV_CHECK(!series.empty(), "plot: no (non-full-cache) variant has coverage.layer_coverage_curve to plot");

  const Frame f = make_frame(series);
  SvgCanvas svg(f.width, f.height);
  svg.rect(0, 0, f.width, f.height, "#ffffff");
  const double last = static_cast<double>(layers - 1);
  const double pad = std::max(0.4, last * 0.02);
  const LinearScale xs{-pad, last + pad, f.x0, f.x1};
  const auto xticks = nice_ticks(0, std::max(last, 1.0), 8, 1);
  std::vector<double> values;
  for (const auto& s : series) {
    for (const auto& p : s.points) values.push_back(p.y);
  }
  const auto [ys, yticks] = y_axis(values, f, 0, 1);
  const std::string title = !options.title.empty() ? options.title : "Layer coverage across layers";
  draw_titles(svg, f, title,
              "share of prompt positions kept by at least one KV head, mean over samples \xC2\xB7 " + runs_text(reports));
  grid_and_axes(svg, f, xs, xticks, ys, yticks, "layer", "layer coverage (share of prompt kept)", /*x_labels=*/true);
  draw_series(svg, f, series, xs, ys, /*markers=*/layers <= 48, layers <= 24 ? 7 : 5);
  draw_legend(svg, f, series);
  return svg.str();
}

std::string score_vs_statistic_svg(const std::vector<CoveragePoint>& points, const std::string& statistic,
                                   const std::string& run, const std::string& suite) {
  // One point per (series, budget, task): the means over that cell's samples, so that tied per-sample scores
  // (0 or 100 on most synthetic tasks) do not pile up on two lines.
  std::map<std::tuple<std::string, double, std::string>, std::pair<Point, int>> cells;
  std::vector<std::string> order;
  std::vector<double> xs_all, ys_all;
  for (const CoveragePoint& p : points) {
    const auto it = p.stats.find(statistic);
    if (it == p.stats.end()) continue;
    auto& [sum, count] = cells[{p.series, p.budget, p.task}];
    sum.x += it->second;
    sum.y += p.score;
    ++count;
    if (std::find(order.begin(), order.end(), p.series) == order.end()) order.push_back(p.series);
    xs_all.push_back(it->second);
    ys_all.push_back(p.score);
  }
  KV_CHECK(!cells.empty(), "analyze: no sample has ", statistic, " to plot");
  std::vector<Series> series(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) series[i].label = order[i];
  for (const auto& [key, cell] : cells) {
    const auto i = static_cast<std::size_t>(std::find(order.begin(), order.end(), std::get<0>(key)) - order.begin());
    series[i].points.push_back({cell.first.x / cell.second, cell.first.y / cell.second});
  }
  const Frame f = make_frame(series);
  SvgCanvas svg(f.width, f.height);
  svg.rect(0, 0, f.width, f.height, "#ffffff");
  std::vector<double> xv, yv;
  for (const auto& s : series)
    for (const auto& p : s.points) {
      xv.push_back(p.x);
      yv.push_back(p.y);
    }
  const auto [ys, yticks] = y_axis(yv, f, 0, 100);
  double lo = *std::min_element(xv.begin(), xv.end()), hi = *std::max_element(xv.begin(), xv.end());
  const double pad = std::max((hi - lo) * 0.06, 0.5);
  const double step = nice_step(hi - lo + 2 * pad, 6);
  lo = std::max(0.0, std::floor((lo - pad) / step) * step);
  const double most = hi;
  hi = std::ceil((hi + pad) / step) * step;
  if (most <= 100) hi = std::min(hi, 100.0);  // percentages end at 100
  const LinearScale xs{lo, hi, f.x0, f.x1};
  const RankCorrelation all = spearman(xs_all, ys_all);
  std::ostringstream sub;
  sub << std::fixed << std::setprecision(2) << "one point per variant and task (means over its samples) \xC2\xB7 per-sample Spearman "
      << "\xCF\x81 = " << all.rho << " (n = " << all.n << ") \xC2\xB7 run " << run;
  draw_titles(svg, f, suite + ": score vs " + statistic, sub.str());
  grid_and_axes(svg, f, xs, nice_ticks(lo, hi, 6), ys, yticks, statistic + " (%)", "task score (points)", true);
  for (std::size_t i = 0; i < series.size(); ++i)
    for (const auto& p : series[i].points) marker(svg, mark_of(series[i], i), xs(p.x), ys(p.y), 7, color_of(series[i], i));
  draw_legend(svg, f, series);
  return svg.str();
}

}  // namespace kvbench::report
