// The SVG writer (escaping, number formatting, ticks, colors), the retention map (binning by hand,
// validation errors, well-formed XML) and `kvbench plot` end to end.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/report/retention_map.h"
#include "harness/report/svg.h"
#include "tests/test_support.h"

namespace kvbench {
namespace {
using report::ColorMap;
using report::RetentionMapOptions;
using test::TempDir;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// --- SVG writer -----------------------------------------------------------------------------------------

TEST(Svg, Escape) {
  EXPECT_EQ(report::xml_escape("a<b && \"c\" 'd' >"), "a&lt;b &amp;&amp; &quot;c&quot; &apos;d&apos; &gt;");
  EXPECT_EQ(report::xml_escape("caf\xC3\xA9 \xC3\x97"), "caf\xC3\xA9 \xC3\x97");  // UTF-8 passes through
  EXPECT_EQ(report::xml_escape(std::string("x\x01y")), "x\xEF\xBF\xBDy");        // not allowed in XML 1.0
  report::SvgCanvas svg(10, 10);
  svg.text(1, 2, "</text><script>");
  EXPECT_NE(svg.str().find("&lt;/text&gt;&lt;script&gt;</text>"), std::string::npos) << svg.str();
}

TEST(Svg, NumberFormat) {
  EXPECT_EQ(report::fmt_num(100), "100");
  EXPECT_EQ(report::fmt_num(12.5), "12.5");
  EXPECT_EQ(report::fmt_num(2.345678), "2.35");
  EXPECT_EQ(report::fmt_num(100.0 / 3), "33.33");
  EXPECT_EQ(report::fmt_num(-0.001), "0");
  EXPECT_EQ(report::fmt_num(-7.25), "-7.25");
  EXPECT_THROW(report::fmt_num(std::nan("")), Error);
}

TEST(Svg, CanvasIsDeterministic) {
  report::SvgCanvas svg(120, 80.5);
  svg.rect(0, 0, 120, 80.5, "#ffffff");
  svg.begin_group(report::svg_translate(10, 5));
  svg.line(0, 0, 1.0 / 3, 2, "#000000");
  svg.polyline({{0, 0}, {10, 20.004}, {30, 5}}, "red", 2);
  report::TextStyle style;
  style.anchor = report::TextStyle::Anchor::kMiddle;
  style.rotate = -90;
  svg.text(5, 6, "a&b", style);
  svg.end_group();
  const std::string expected =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"80.5\" viewBox=\"0 0 120 80.5\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect x=\"0\" y=\"0\" width=\"120\" height=\"80.5\" fill=\"#ffffff\"/>\n"
      "<g transform=\"translate(10 5)\">\n"
      "<line x1=\"0\" y1=\"0\" x2=\"0.33\" y2=\"2\" stroke=\"#000000\" stroke-width=\"1\"/>\n"
      "<polyline points=\"0,0 10,20 30,5\" fill=\"none\" stroke=\"red\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n"
      "<text x=\"5\" y=\"6\" font-size=\"12\" text-anchor=\"middle\" fill=\"#222222\" transform=\"rotate(-90 5 6)\">"
      "a&amp;b</text>\n"
      "</g>\n"
      "</svg>\n";
  EXPECT_EQ(svg.str(), expected);
}

TEST(Svg, GroupsMustBalance) {
  report::SvgCanvas svg(10, 10);
  svg.begin_group();
  EXPECT_THROW(svg.str(), Error);
  svg.end_group();
  EXPECT_NO_THROW(svg.str());
  EXPECT_THROW(svg.end_group(), Error);
  EXPECT_THROW(report::SvgCanvas(0, 10), Error);
}

TEST(Svg, GradientGoesIntoDefs) {
  report::SvgCanvas svg(10, 10);
  const std::string fill = svg.linear_gradient({{0, "#000000"}, {1, "#ffffff"}}, true);
  EXPECT_EQ(fill, "url(#grad0)");
  svg.rect(0, 0, 10, 10, fill);
  const std::string out = svg.str();
  EXPECT_NE(out.find("<defs>\n<linearGradient id=\"grad0\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n"
                     "<stop offset=\"0\" stop-color=\"#000000\"/>\n<stop offset=\"1\" stop-color=\"#ffffff\"/>\n"
                     "</linearGradient>\n</defs>\n"),
            std::string::npos)
      << out;
  EXPECT_LT(out.find("</defs>"), out.find("fill=\"url(#grad0)\""));
}

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-9) << "tick " << i;
}

TEST(Svg, NiceTicks) {
  // span / target = 1000 / 5 = 200 = 2 x 10^2: a 1-2-5 step already.
  expect_ticks(report::nice_ticks(0, 1000, 5), {0, 200, 400, 600, 800, 1000});
  // 1 / 5 = 0.2.
  expect_ticks(report::nice_ticks(0, 1, 5), {0, 0.2, 0.4, 0.6, 0.8, 1});
  // 3000 / 7 = 428.6 → 5 x 10^2.
  expect_ticks(report::nice_ticks(0, 3000, 7), {0, 500, 1000, 1500, 2000, 2500, 3000});
  // (97 - 3) / 5 = 18.8 → 20; multiples of 20 inside [3, 97].
  expect_ticks(report::nice_ticks(3, 97, 5), {20, 40, 60, 80});
  // 2 / 4 = 0.5 across zero.
  expect_ticks(report::nice_ticks(-1, 1, 4), {-1, -0.5, 0, 0.5, 1});
  // 3 / 5 = 0.6 → 1; layers are integers anyway (min_step 1).
  expect_ticks(report::nice_ticks(0, 3, 5, 1), {0, 1, 2, 3});
  // 31 / 8 = 3.875 → 5.
  expect_ticks(report::nice_ticks(0, 31, 8, 1), {0, 5, 10, 15, 20, 25, 30});
  // 0.17 / 2 = 0.085 → 0.1.
  expect_ticks(report::nice_ticks(0, 0.17, 2), {0, 0.1});
  expect_ticks(report::nice_ticks(5, 5), {5});
  expect_ticks(report::nice_ticks(1000, 0, 5), {0, 200, 400, 600, 800, 1000});  // reversed range
  EXPECT_DOUBLE_EQ(report::nice_step(7, 1), 10);
  EXPECT_DOUBLE_EQ(report::nice_step(1, 1), 1);
  EXPECT_DOUBLE_EQ(report::nice_step(0.03, 1), 0.05);

  EXPECT_EQ(report::tick_label(0.4, 0.2), "0.4");
  EXPECT_EQ(report::tick_label(1, 0.5), "1.0");
  EXPECT_EQ(report::tick_label(0.05, 0.05), "0.05");
  EXPECT_EQ(report::tick_label(2000, 1000), "2000");
  EXPECT_EQ(report::tick_label(-1e-12, 0.1), "0.0");
}

TEST(Svg, ColorMaps) {
  const ColorMap map = ColorMap::ylgnbu();
  EXPECT_EQ(map.hex(0), "#ffffd9");
  EXPECT_EQ(map.hex(1), "#081d58");
  EXPECT_EQ(map.hex(0.5), "#41b6c4");  // the 5th of 9 control points
  // Half way between the first two control points, #ffffd9 and #edf8b1:
  // r (255 + 237) / 2 = 246, g (255 + 248) / 2 = 251.5 → 252, b (217 + 177) / 2 = 197.
  EXPECT_EQ(map.hex(1.0 / 16), "#f6fcc5");
  EXPECT_EQ(map.hex(-3), map.hex(0));
  EXPECT_EQ(map.hex(7), map.hex(1));
  EXPECT_EQ(map.hex(std::nan("")), map.hex(0));
  EXPECT_EQ(ColorMap::viridis().hex(0), "#440154");
  EXPECT_EQ(ColorMap::viridis().hex(1), "#fde725");
  EXPECT_THROW(ColorMap({{0, 0, 0}}), Error);
}

TEST(Svg, LegendAndAxes) {
  report::SvgCanvas svg(200, 100);
  report::legend(svg, 10, 10, {{"snapkv", "#1f77b4", true}, {"h2o <full>", "#ff7f0e", false}});
  report::axis_bottom(svg, {0, 1000, 20, 180}, 90, report::nice_ticks(0, 1000, 5), "budget");
  const std::string out = svg.str();
  EXPECT_NE(out.find(">snapkv</text>"), std::string::npos);
  EXPECT_NE(out.find(">h2o &lt;full&gt;</text>"), std::string::npos);
  EXPECT_NE(out.find(">budget</text>"), std::string::npos);
  // Tick 600 sits at 20 + 0.6 x 160 = 116.
  EXPECT_NE(out.find("<text x=\"116\" y=\"96\" dy=\"8\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444444\">600</text>"),
            std::string::npos)
      << out;
}

// --- retention map --------------------------------------------------------------------------------------

// T = 10, 2 layers x 2 KV heads. With max_columns = 4: bin width ceil(10 / 4) = 3, ceil(10 / 3) = 4 columns
// covering [0,3) [3,6) [6,9) [9,10) (the last holds one position).
//   kept[0][0] = {0,1,2,9}  → 3/3, 0, 0, 1/1   = 1, 0, 0, 1
//   kept[0][1] = {2,4}      → 1/3, 1/3, 0, 0
//   kept[1][0] = {}         → 0, 0, 0, 0
//   kept[1][1] = {5,6,7,8}  → 0, 1/3, 3/3, 0
//   any head, layer 0 = {0,1,2,4,9} → 1, 1/3, 0, 1   coverage 5/10
//   any head, layer 1 = {5,6,7,8}   → 0, 1/3, 1, 0   coverage 4/10
// Fully dark (fraction 1) cells: head 0 layer 0 columns 0 and 3; head 1 layer 1 column 2; any head: layer 0
// columns 0 and 3, layer 1 column 2.
nlohmann::json tiny_input() {
  return {{"prompt_tokens", 10},
          {"policy", "test(budget=4)"},
          {"kept", {{{0, 1, 2, 9}, {2, 4}}, {nlohmann::json::array(), {5, 6, 7, 8}}}}};
}

TEST(RetentionMap, BinningByHand) {
  const auto data = report::parse_retention(tiny_input(), "tiny");
  ASSERT_EQ(data.layers(), 2);
  ASSERT_EQ(data.heads(), 2);
  const auto g = report::bin_retention(data, 4);
  EXPECT_EQ(g.bin_width, 3);
  EXPECT_EQ(g.columns, 4);
  const double third = 1.0 / 3;
  const auto expect_row = [](const std::vector<double>& got, const std::vector<double>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t c = 0; c < want.size(); ++c) EXPECT_NEAR(got[c], want[c], 1e-12) << what << " column " << c;
  };
  expect_row(g.fraction[0][0], {1, 0, 0, 1}, "head 0 layer 0");
  expect_row(g.fraction[1][0], {third, third, 0, 0}, "head 1 layer 0");
  expect_row(g.fraction[0][1], {0, 0, 0, 0}, "head 0 layer 1");
  expect_row(g.fraction[1][1], {0, third, 1, 0}, "head 1 layer 1");
  expect_row(g.any_fraction[0], {1, third, 0, 1}, "any head layer 0");
  expect_row(g.any_fraction[1], {0, third, 1, 0}, "any head layer 1");
  expect_row(g.coverage, {0.5, 0.4}, "coverage");
  expect_row(g.kept_share[0], {0.4, 0}, "kept share head 0");
  expect_row(g.kept_share[1], {0.2, 0.4}, "kept share head 1");

  // No binning when T fits: one column per position.
  const auto g1 = report::bin_retention(data, 1000);
  EXPECT_EQ(g1.bin_width, 1);
  EXPECT_EQ(g1.columns, 10);
  expect_row(g1.fraction[1][0], {0, 0, 1, 0, 1, 0, 0, 0, 0, 0}, "unbinned head 1 layer 0");
  // T = 3000 with the default 1000 columns: 3 positions per column; T = 1001: 2 per column, 501 columns.
  report::RetentionData big;
  big.prompt_tokens = 3000;
  big.kept = {{{0, 2999}}};
  EXPECT_EQ(report::bin_retention(big, 1000).bin_width, 3);
  EXPECT_EQ(report::bin_retention(big, 1000).columns, 1000);
  big.prompt_tokens = 1001;
  big.kept = {{{1000}}};
  const auto g2 = report::bin_retention(big, 1000);
  EXPECT_EQ(g2.bin_width, 2);
  EXPECT_EQ(g2.columns, 501);
  EXPECT_DOUBLE_EQ(g2.fraction[0][0][500], 1.0);  // the last column holds position 1000 only
  EXPECT_THROW(report::bin_retention(big, 0), Error);
}

TEST(RetentionMap, DarkCellsInTheSvg) {
  RetentionMapOptions options;
  options.max_columns = 4;
  options.plot_width = 400;
  const std::string svg = report::retention_map_svg(tiny_input(), options);
  // Layout: 4 columns of floor(400 / 4) = 100 px from x = 78; 2 layers → rows of clamp(160 / 2, 4, 24) = 24 px;
  // the first panel's top is at 58 (title) + 18 (panel label) = 76. Column 3 spans position 9 only, a third
  // of a full column's width: 33.33 px.
  const std::string dark = ColorMap::ylgnbu().hex(1);
  EXPECT_NE(svg.find("<rect x=\"78\" y=\"76\" width=\"100\" height=\"24\" fill=\"" + dark + "\"/>"), std::string::npos)
      << svg;
  EXPECT_NE(svg.find("<rect x=\"378\" y=\"76\" width=\"33.33\" height=\"24\" fill=\"" + dark + "\"/>"),
            std::string::npos);
  // Six fully kept cells in all (three per head panel pair, three in the union panel; see tiny_input()).
  EXPECT_EQ(count(svg, "fill=\"" + dark + "\""), 6u) << svg;
  // A third-kept cell has the color a third of the way along the map.
  EXPECT_NE(svg.find("fill=\"" + ColorMap::ylgnbu().hex(1.0 / 3) + "\""), std::string::npos);
  for (const char* text : {">Retention map: test(budget=4)</text>", ">KV head 0</text>", ">KV head 1</text>",
                           ">any KV head (layer coverage)</text>", ">prompt position</text>", ">layer</text>",
                           ">fraction kept</text>", ">coverage</text>", "1 column = 3 positions"}) {
    EXPECT_NE(svg.find(text), std::string::npos) << text;
  }
  EXPECT_EQ(svg, report::retention_map_svg(tiny_input(), options)) << "output must be deterministic";

  options.head = 1;
  const std::string one = report::retention_map_svg(tiny_input(), options);
  EXPECT_NE(one.find(">KV head 1</text>"), std::string::npos);
  EXPECT_EQ(one.find(">KV head 0</text>"), std::string::npos);
  EXPECT_EQ(one.find("any KV head"), std::string::npos);
  EXPECT_EQ(count(one, "fill=\"" + dark + "\""), 1u);  // head 1: layer 1 column 2 only
  options.head = 2;
  try {
    report::retention_map_svg(tiny_input(), options);
    ADD_FAILURE() << "head 2 of 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KV head 2 is out of range: the input has 2 KV head(s) (0..1)"),
              std::string::npos)
        << e.what();
  }
}

TEST(RetentionMap, ValidationErrorsNameFieldAndIndices) {
  struct Case {
    std::string what;
    std::function<void(nlohmann::json&)> mutate;
    std::string message;
  };
  using J = nlohmann::json;
  const std::vector<Case> cases = {
      {"not an object", [](J& j) { j = J::array({1}); }, "in.json: expected a JSON object"},
      {"no prompt_tokens", [](J& j) { j.erase("prompt_tokens"); }, "in.json: missing field 'prompt_tokens'"},
      {"string T", [](J& j) { j["prompt_tokens"] = "10"; }, "'prompt_tokens' must be a positive integer, got string \"10\""},
      {"zero T", [](J& j) { j["prompt_tokens"] = 0; }, "'prompt_tokens' must be a positive integer"},
      {"negative T", [](J& j) { j["prompt_tokens"] = -4; }, "'prompt_tokens' must be a positive integer"},
      {"fractional T", [](J& j) { j["prompt_tokens"] = 2.5; }, "'prompt_tokens' must be a positive integer, got number"},
      {"no policy", [](J& j) { j.erase("policy"); }, "missing field 'policy'"},
      {"numeric policy", [](J& j) { j["policy"] = 3; }, "field 'policy' must be a string, got number 3"},
      {"no kept", [](J& j) { j.erase("kept"); }, "missing field 'kept'"},
      {"kept object", [](J& j) { j["kept"] = J::object(); }, "field 'kept' must be an array with one entry per layer"},
      {"kept empty", [](J& j) { j["kept"] = J::array(); }, "field 'kept' is empty (no layers)"},
      {"layer not array", [](J& j) { j["kept"][1] = 5; }, "kept[1] must be an array with one entry per KV head, got number 5"},
      {"layer empty", [](J& j) { j["kept"][1] = J::array(); }, "kept[1] is empty (no KV heads)"},
      {"head count", [](J& j) { j["kept"][1].erase(1); }, "kept[1] has 1 KV heads but kept[0] has 2"},
      {"head not array", [](J& j) { j["kept"][0][1] = "x"; }, "kept[0][1] must be an array of prompt positions"},
      {"fractional position", [](J& j) { j["kept"][0][1][1] = 4.5; }, "kept[0][1][1] must be an integer position, got number 4.5"},
      {"null position", [](J& j) { j["kept"][0][1][0] = nullptr; }, "kept[0][1][0] must be an integer position, got null"},
      {"position = T", [](J& j) { j["kept"][1][1][3] = 10; }, "kept[1][1][3] = 10 is outside [0, prompt_tokens = 10)"},
      {"negative position", [](J& j) { j["kept"][0][0][0] = -1; }, "kept[0][0][0] = -1 is outside [0, prompt_tokens = 10)"},
      {"huge position", [](J& j) { j["kept"][0][0][3] = 18446744073709551615ull; }, "kept[0][0][3] = 18446744073709551615 is outside"},
      {"duplicate", [](J& j) { j["kept"][0][0] = {0, 1, 1}; }, "kept[0][0][2] = 1 duplicates kept[0][0][1] (positions must be unique)"},
      {"unsorted", [](J& j) { j["kept"][1][1] = {5, 7, 6}; }, "kept[1][1][2] = 6 is smaller than kept[1][1][1] = 7 (positions must be sorted ascending)"},
  };
  for (const auto& c : cases) {
    J j = tiny_input();
    c.mutate(j);
    try {
      report::parse_retention(j, "in.json");
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << c.what << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("in.json: ", 0), 0u) << c.what << ": " << e.what();
    }
  }
  // Extra fields of the generate output are fine, and so is a head that kept nothing.
  J j = tiny_input();
  j["tokens"] = {1, 2, 3};
  j["kept"][0][0] = J::array();
  EXPECT_NO_THROW(report::parse_retention(j, "in.json"));
}

TEST(RetentionMap, OutputIsWellFormedXml) {
  nlohmann::json input = tiny_input();
  input["policy"] = "we<ird> & \"quoted\" 'policy' \xC3\x97";
  const std::string svg = report::retention_map_svg(input);
  EXPECT_NE(svg.find("Retention map: we&lt;ird&gt; &amp; &quot;quoted&quot; &apos;policy&apos; \xC3\x97"),
            std::string::npos);
  if (!have_program("xmllint")) GTEST_SKIP() << "xmllint is not installed (Debian: libxml2-utils); XML check skipped";
  TempDir dir;
  test::write_file(dir.file("map.svg"), svg);
  EXPECT_EQ(std::system(("xmllint --noout " + dir.file("map.svg")).c_str()), 0) << svg;
}

// --- kvbench plot ---------------------------------------------------------------------------------------

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(path.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Runs kvbench with a given PATH (to hide rsvg-convert).
test::CommandResult run_with_path(const std::string& path_value, const std::string& args) {
  TempDir tmp;
  const std::string cmd = "PATH='" + path_value + "' " + std::string(KVBENCH_BINARY) + " " + args + " >" +
                          tmp.file("out") + " 2>" + tmp.file("err");
  const int status = std::system(cmd.c_str());
  test::CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = test::read_file(tmp.file("out"));
  r.err = test::read_file(tmp.file("err"));
  return r;
}

TEST(PlotCli, WritesSvg) {
  TempDir dir;
  test::write_file(dir.file("gen.json"), tiny_input().dump());
  const auto r = test::run_kvbench("plot --kept " + dir.file("gen.json") + " --out " + dir.file("figs/map.svg") +
                                   " --max-columns 4 --head 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  const std::string svg = test::read_file(dir.file("figs/map.svg"));
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("1 column = 3 positions"), std::string::npos);
  EXPECT_NE(svg.find(">KV head 1</text>"), std::string::npos);
  EXPECT_EQ(list_dir(dir.file("figs")), std::vector<std::string>{"map.svg"});
}

TEST(PlotCli, Errors) {
  TempDir dir;
  nlohmann::json bad = tiny_input();
  bad["kept"][1][1] = {5, 7, 6};
  test::write_file(dir.file("bad.json"), bad.dump());
  test::write_file(dir.file("gen.json"), tiny_input().dump());
  auto r = test::run_kvbench("plot --kept " + dir.file("bad.json") + " --out " + dir.file("m.svg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: " + dir.file("bad.json") + ": kept[1][1][2] = 6 is smaller than"), std::string::npos)
      << r.err;
  r = test::run_kvbench("plot --kept " + dir.file("missing.json") + " --out " + dir.file("m.svg"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
  r = test::run_kvbench("plot --kept " + dir.file("gen.json") + " --out " + dir.file("m.pdf"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the file name must end in .svg or .png"), std::string::npos) << r.err;
  r = test::run_kvbench("plot --kept " + dir.file("gen.json") + " --out " + dir.file("m.svg") + " --head 7");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("KV head 7 is out of range"), std::string::npos) << r.err;
  r = test::run_kvbench("plot --kept " + dir.file("gen.json") + " --out " + dir.file("m.svg") + " --max-columns 0");
  EXPECT_NE(r.exit_code, 0);  // CLI11's range check
  r = test::run_kvbench("plot --out " + dir.file("m.svg"));
  EXPECT_NE(r.exit_code, 0);
  // PNG without rsvg-convert on PATH: a clear message, nothing written.
  r = run_with_path("/nonexistent", "plot --kept " + dir.file("gen.json") + " --out " + dir.file("m.png"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("PNG output needs rsvg-convert, which is not on PATH; install librsvg2-bin"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"bad.json", "gen.json"}));
}

TEST(PlotCli, WritesPng) {
  if (!have_program("rsvg-convert")) GTEST_SKIP() << "rsvg-convert is not installed (Debian: librsvg2-bin)";
  TempDir dir;
  test::write_file(dir.file("gen.json"), tiny_input().dump());
  const auto r = test::run_kvbench("plot --kept " + dir.file("gen.json") + " --out " + dir.file("map.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir.file("map.png")).substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_EQ(list_dir(dir.path()), (std::vector<std::string>{"gen.json", "map.png"}));  // no temporaries left
}

}  // namespace
}  // namespace kvbench
