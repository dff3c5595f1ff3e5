#pragma once
// Writing a figure the report code drew as SVG: FILE.svg as it is, FILE.png through rsvg-convert (librsvg2-bin)
// at twice the SVG's pixel size. Shared by kvbench plot and kvbench analyze.

#include <string>

namespace kvbench::cli {

/// Throws naming `option` unless `path` ends in .svg or .png and, for .png, rsvg-convert is on PATH: checked
/// before any work, so a run never ends in "cannot write the figure".
void check_figure_path(const std::string& path, const std::string& option);

/// Whether rsvg-convert is on PATH (PNG output is possible).
bool can_write_png();

/// Writes `svg` to `path` (.svg) or converts it (.png); atomically, temporaries beside `path`.
void write_figure(const std::string& path, const std::string& svg);

}  // namespace kvbench::cli
