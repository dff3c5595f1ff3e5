#pragma once
// A minimal SVG writer for kvbench's figures: a canvas of shapes and text, linear scales with 1-2-5 ticks,
// axes, sequential color maps, a color bar and a legend. No third-party code. Every number is written with
// fmt_num (fixed, at most two decimals), so the same figure is always the same bytes and tests can compare.

#include <cstdint>
#include <string>
#include <vector>

namespace kvbench::report {

/// `value` with at most two decimals, trailing zeros dropped, never "-0": 12.5 → "12.5", 3.0 → "3".
std::string fmt_num(double value);
/// `text` with &, <, >, " and ' replaced by entities (safe in element content and attribute values).
std::string xml_escape(const std::string& text);

struct Point {
  double x = 0, y = 0;
};

struct TextStyle {
  enum class Anchor { kStart, kMiddle, kEnd };
  enum class VAlign { kBaseline, kMiddle, kTop };  // where `y` sits relative to the text
  double size = 12;
  Anchor anchor = Anchor::kStart;
  VAlign valign = VAlign::kBaseline;
  bool bold = false;
  std::string color = "#222222";
  double rotate = 0;  ///< degrees, clockwise, about (x, y)
};

/// Shapes in document order. Colors are any SVG color strings ("#rrggbb", "none", a gradient's url(...)).
class SvgCanvas {
 public:
  SvgCanvas(double width, double height);

  double width() const { return width_; }
  double height() const { return height_; }

  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke = "none",
            double stroke_width = 1);
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width = 1);
  void polyline(const std::vector<Point>& points, const std::string& stroke, double stroke_width = 1.5);
  /// `content` is escaped here: pass plain text.
  void text(double x, double y, const std::string& content, const TextStyle& style = {});
  /// Opens a <g>; `transform` such as translate(10, 20) (see svg_translate), may be empty.
  void begin_group(const std::string& transform = "");
  void end_group();
  /// Defines a linear gradient (stops: offset in [0, 1] and color) and returns the fill that uses it.
  /// `vertical`: offset 0 at the bottom, 1 at the top; otherwise 0 at the left.
  std::string linear_gradient(const std::vector<std::pair<double, std::string>>& stops, bool vertical);

  /// The complete document. Throws kvbench::Error if a group is still open.
  std::string str() const;

 private:
  double width_, height_;
  std::string defs_, body_;
  int open_groups_ = 0;
  int gradients_ = 0;
};

std::string svg_translate(double x, double y);

// --- scales and ticks ------------------------------------------------------------------------------------

/// Maps the domain [d0, d1] linearly onto the range [r0, r1] (either may be decreasing).
struct LinearScale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double v) const;
};

/// The 1-2-5 step (1, 2 or 5 times a power of ten) closest above span / target.
double nice_step(double span, int target);
/// Multiples of nice_step(hi - lo, target) (at least `min_step`) inside [lo, hi]: [0, 1000] with target 5 →
/// 0, 200, ..., 1000. A degenerate range gives {lo}.
std::vector<double> nice_ticks(double lo, double hi, int target = 5, double min_step = 0);
/// A tick value with the decimals that `step` needs: (0.4, 0.2) → "0.4", (2000, 1000) → "2000".
std::string tick_label(double value, double step);

struct AxisStyle {
  double tick_length = 4;
  double font_size = 10;
  std::string color = "#444444";
  bool labels = true;  ///< tick labels (the axis title is drawn when non-empty)
};

/// Horizontal axis at `y` under a plot: baseline over the scale's range, ticks, labels and a centered title.
void axis_bottom(SvgCanvas& canvas, const LinearScale& x, double y, const std::vector<double>& ticks,
                 const std::string& title, const AxisStyle& style = {});
/// Vertical axis at `x` left of a plot; the title is rotated and placed `title_offset` left of the axis.
void axis_left(SvgCanvas& canvas, const LinearScale& y, double x, const std::vector<double>& ticks,
               const std::string& title, double title_offset = 34, const AxisStyle& style = {});

// --- colors -----------------------------------------------------------------------------------------------

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  std::string hex() const;  ///< "#rrggbb"
};

/// A sequential color map: linear interpolation (in sRGB) between evenly spaced control points.
class ColorMap {
 public:
  explicit ColorMap(std::vector<Rgb> control_points);
  /// matplotlib's viridis sampled at 9 points: dark purple (0) to yellow (1).
  static ColorMap viridis();
  /// ColorBrewer's YlGnBu (9 classes): near white (0) to dark navy (1); for "darker = more".
  static ColorMap ylgnbu();

  Rgb at(double t) const;  ///< t clamped to [0, 1]; NaN reads as 0
  std::string hex(double t) const { return at(t).hex(); }
  const std::vector<Rgb>& control_points() const { return points_; }

 private:
  std::vector<Rgb> points_;
};

/// Vertical color bar in the box (x, y, w, h): 1 at the top, 0 at the bottom, ticks on the right and a
/// rotated title right of them.
void color_bar(SvgCanvas& canvas, const ColorMap& map, double x, double y, double w, double h,
               const std::string& title, double font_size = 10);

struct LegendEntry {
  std::string label;
  std::string color;
  bool line = true;  ///< a line sample (series) or a filled square (category)
};
/// Entries stacked downwards from (x, y) (the top left corner), one per `row_height`.
void legend(SvgCanvas& canvas, double x, double y, const std::vector<LegendEntry>& entries, double font_size = 10,
            double row_height = 16);

}  // namespace kvbench::report
