#include "harness/report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "harness/common/error.h"

namespace kvbench::report {

std::string fmt_num(double value) {
  KV_CHECK(std::isfinite(value), "SVG writer: non-finite coordinate or size (", value, ")");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", value);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out += c;
        }
    }
  }
  return out;
}

// --- canvas ---------------------------------------------------------------------------------------------

SvgCanvas::SvgCanvas(double width, double height) : width_(width), height_(height) {
  KV_CHECK(width > 0 && height > 0, "SVG canvas: width and height must be positive (got ", width, " x ", height, ")");
}

void SvgCanvas::rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke,
                     double stroke_width) {
  body_ += "<rect x=\"" + fmt_num(x) + "\" y=\"" + fmt_num(y) + "\" width=\"" + fmt_num(w) + "\" height=\"" +
           fmt_num(h) + "\" fill=\"" + xml_escape(fill) + "\"";
  if (stroke != "none") body_ += " stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + fmt_num(stroke_width) + "\"";
  body_ += "/>\n";
}

void SvgCanvas::line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width) {
  body_ += "<line x1=\"" + fmt_num(x1) + "\" y1=\"" + fmt_num(y1) + "\" x2=\"" + fmt_num(x2) + "\" y2=\"" +
           fmt_num(y2) + "\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + fmt_num(stroke_width) + "\"/>\n";
}

void SvgCanvas::polyline(const std::vector<Point>& points, const std::string& stroke, double stroke_width) {
  body_ += "<polyline points=\"";
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i) body_ += ' ';
    body_ += fmt_num(points[i].x) + "," + fmt_num(points[i].y);
  }
  body_ += "\" fill=\"none\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + fmt_num(stroke_width) +
           "\" stroke-linejoin=\"round\"/>\n";
}

void SvgCanvas::text(double x, double y, const std::string& content, const TextStyle& style) {
  // Baseline shifts by font size instead of dominant-baseline, which renderers support unevenly.
  double dy = 0;
  if (style.valign == TextStyle::VAlign::kMiddle) dy = 0.35 * style.size;
  if (style.valign == TextStyle::VAlign::kTop) dy = 0.8 * style.size;
  body_ += "<text x=\"" + fmt_num(x) + "\" y=\"" + fmt_num(y) + "\"";
  if (dy != 0) body_ += " dy=\"" + fmt_num(dy) + "\"";
  body_ += " font-size=\"" + fmt_num(style.size) + "\"";
  if (style.anchor == TextStyle::Anchor::kMiddle) body_ += " text-anchor=\"middle\"";
  if (style.anchor == TextStyle::Anchor::kEnd) body_ += " text-anchor=\"end\"";
  if (style.bold) body_ += " font-weight=\"bold\"";
  body_ += " fill=\"" + xml_escape(style.color) + "\"";
  if (style.rotate != 0) {
    body_ += " transform=\"rotate(" + fmt_num(style.rotate) + " " + fmt_num(x) + " " + fmt_num(y) + ")\"";
  }
  body_ += ">" + xml_escape(content) + "</text>\n";
}

void SvgCanvas::begin_group(const std::string& transform) {
  body_ += transform.empty() ? "<g>\n" : "<g transform=\"" + xml_escape(transform) + "\">\n";
  ++open_groups_;
}

void SvgCanvas::end_group() {
  KV_CHECK(open_groups_ > 0, "SVG canvas: end_group() without begin_group()");
  body_ += "</g>\n";
  --open_groups_;
}

std::string SvgCanvas::linear_gradient(const std::vector<std::pair<double, std::string>>& stops, bool vertical) {
  const std::string id = "grad" + std::to_string(gradients_++);
  defs_ += "<linearGradient id=\"" + id + "\"" +
           (vertical ? " x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\"" : " x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\"") + ">\n";
  for (const auto& [offset, color] : stops) {
    defs_ += "<stop offset=\"" + fmt_num(offset) + "\" stop-color=\"" + xml_escape(color) + "\"/>\n";
  }
  defs_ += "</linearGradient>\n";
  return "url(#" + id + ")";
}

std::string SvgCanvas::str() const {
  KV_CHECK(open_groups_ == 0, "SVG canvas: ", open_groups_, " group(s) left open");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt_num(width_) + "\" height=\"" + fmt_num(height_) +
         "\" viewBox=\"0 0 " + fmt_num(width_) + " " + fmt_num(height_) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  if (!defs_.empty()) out += "<defs>\n" + defs_ + "</defs>\n";
  out += body_;
  out += "</svg>\n";
  return out;
}

std::string svg_translate(double x, double y) { return "translate(" + fmt_num(x) + " " + fmt_num(y) + ")"; }

// --- scales and ticks ------------------------------------------------------------------------------------

double LinearScale::operator()(double v) const {
  if (d1 == d0) return r0;
  return r0 + (v - d0) / (d1 - d0) * (r1 - r0);
}

double nice_step(double span, int target) {
  KV_CHECK(span > 0 && std::isfinite(span) && target > 0, "nice_step: need a positive span and target (got ", span,
           ", ", target, ")");
  const double raw = span / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;  // in [1, 10)
  // A little slack so that 1000 / 5 = 200 stays 200 despite rounding in log10/pow.
  const double eps = 1e-9;
  const double factor = normalized <= 1 + eps ? 1 : normalized <= 2 + eps ? 2 : normalized <= 5 + eps ? 5 : 10;
  return factor * magnitude;
}

std::vector<double> nice_ticks(double lo, double hi, int target, double min_step) {
  KV_CHECK(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: non-finite range [", lo, ", ", hi, "]");
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  const double step = std::max(nice_step(hi - lo, target), min_step);
  const double eps = step * 1e-9;
  std::vector<double> ticks;
  for (auto k = static_cast<long long>(std::ceil((lo - eps) / step));; ++k) {
    const double v = static_cast<double>(k) * step;
    if (v > hi + eps) break;
    ticks.push_back(v);
  }
  return ticks;
}

std::string tick_label(double value, double step) {
  int decimals = 0;
  if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // "-0.0" from rounding
  return s;
}

namespace {
double tick_step(const std::vector<double>& ticks) { return ticks.size() >= 2 ? ticks[1] - ticks[0] : 1; }
}  // namespace

void axis_bottom(SvgCanvas& canvas, const LinearScale& x, double y, const std::vector<double>& ticks,
                 const std::string& title, const AxisStyle& style) {
  canvas.line(x.r0, y, x.r1, y, style.color);
  const double step = tick_step(ticks);
  TextStyle label;
  label.size = style.font_size;
  label.anchor = TextStyle::Anchor::kMiddle;
  label.valign = TextStyle::VAlign::kTop;
  label.color = style.color;
  for (const double t : ticks) {
    canvas.line(x(t), y, x(t), y + style.tick_length, style.color);
    if (style.labels) canvas.text(x(t), y + style.tick_length + 2, tick_label(t, step), label);
  }
  if (!title.empty()) {
    label.size = style.font_size + 1;
    label.color = "#222222";
    canvas.text((x.r0 + x.r1) / 2, y + style.tick_length + 2 + style.font_size * 1.4, title, label);
  }
}

void axis_left(SvgCanvas& canvas, const LinearScale& y, double x, const std::vector<double>& ticks,
               const std::string& title, double title_offset, const AxisStyle& style) {
  canvas.line(x, y.r0, x, y.r1, style.color);
  const double step = tick_step(ticks);
  TextStyle label;
  label.size = style.font_size;
  label.anchor = TextStyle::Anchor::kEnd;
  label.valign = TextStyle::VAlign::kMiddle;
  label.color = style.color;
  for (const double t : ticks) {
    canvas.line(x - style.tick_length, y(t), x, y(t), style.color);
    if (style.labels) canvas.text(x - style.tick_length - 2, y(t), tick_label(t, step), label);
  }
  if (!title.empty()) {
    TextStyle t;
    t.size = style.font_size + 1;
    t.anchor = TextStyle::Anchor::kMiddle;
    t.rotate = -90;
    canvas.text(x - title_offset, (y.r0 + y.r1) / 2, title, t);
  }
}

// --- colors -----------------------------------------------------------------------------------------------

std::string Rgb::hex() const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
  return buf;
}

ColorMap::ColorMap(std::vector<Rgb> control_points) : points_(std::move(control_points)) {
  KV_CHECK(points_.size() >= 2, "color map: need at least two control points");
}

ColorMap ColorMap::viridis() {
  return ColorMap({{0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x91, 0x8c},
                   {0x28, 0xae, 0x80}, {0x5e, 0xc9, 0x62}, {0xad, 0xdc, 0x30}, {0xfd, 0xe7, 0x25}});
}

ColorMap ColorMap::ylgnbu() {
  return ColorMap({{0xff, 0xff, 0xd9}, {0xed, 0xf8, 0xb1}, {0xc7, 0xe9, 0xb4}, {0x7f, 0xcd, 0xbb}, {0x41, 0xb6, 0xc4},
                   {0x1d, 0x91, 0xc0}, {0x22, 0x5e, 0xa8}, {0x25, 0x34, 0x94}, {0x08, 0x1d, 0x58}});
}

Rgb ColorMap::at(double t) const {
  if (!(t > 0)) t = 0;  // also NaN
  if (t > 1) t = 1;
  const double pos = t * static_cast<double>(points_.size() - 1);
  const auto i = std::min(static_cast<std::size_t>(pos), points_.size() - 2);
  const double f = pos - static_cast<double>(i);
  const auto mix = [f](std::uint8_t a, std::uint8_t b) {
    return static_cast<std::uint8_t>(std::lround(a + (static_cast<double>(b) - a) * f));
  };
  const Rgb& a = points_[i];
  const Rgb& b = points_[i + 1];
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

void color_bar(SvgCanvas& canvas, const ColorMap& map, double x, double y, double w, double h,
               const std::string& title, double font_size) {
  std::vector<std::pair<double, std::string>> stops;
  const auto n = map.control_points().size();
  for (std::size_t i = 0; i < n; ++i) stops.emplace_back(static_cast<double>(i) / (n - 1), map.control_points()[i].hex());
  canvas.rect(x, y, w, h, canvas.linear_gradient(stops, /*vertical=*/true), "#444444", 0.75);
  const LinearScale scale{0, 1, y + h, y};
  const auto ticks = nice_ticks(0, 1, h >= 120 ? 5 : 2);
  TextStyle label;
  label.size = font_size;
  label.valign = TextStyle::VAlign::kMiddle;
  label.color = "#444444";
  for (const double t : ticks) {
    canvas.line(x + w, scale(t), x + w + 3, scale(t), "#444444");
    canvas.text(x + w + 5, scale(t), tick_label(t, tick_step(ticks)), label);
  }
  if (!title.empty()) {
    TextStyle t;
    t.size = font_size + 1;
    t.anchor = TextStyle::Anchor::kMiddle;
    t.rotate = 90;
    canvas.text(x + w + 5 + font_size * 2.4, y + h / 2, title, t);
  }
}

void legend(SvgCanvas& canvas, double x, double y, const std::vector<LegendEntry>& entries, double font_size,
            double row_height) {
  TextStyle label;
  label.size = font_size;
  label.valign = TextStyle::VAlign::kMiddle;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double cy = y + row_height * (static_cast<double>(i) + 0.5);
    if (entries[i].line) {
      canvas.line(x, cy, x + 18, cy, entries[i].color, 2);
    } else {
      canvas.rect(x + 4, cy - 5, 10, 10, entries[i].color);
    }
    canvas.text(x + 24, cy, entries[i].label, label);
  }
}

}  // namespace kvbench::report
