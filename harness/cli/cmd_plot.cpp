// kvbench plot: figures from kvbench's JSON outputs, as SVG (our own writer) or PNG (through rsvg-convert).
//   kvbench plot --kept GENERATE.json --out FILE.svg|FILE.png [--head H] [--max-columns N]
//   kvbench plot --report R... --out FILE.svg|FILE.png [--kind budget|coverage] [--subset NAME]
//                [--variant NAME]... [--title TEXT]
// --kept: the retention map of `kvbench generate --json` output (which prompt positions each layer and KV
// head kept; see harness/report/retention_map.h).
// --report: figures of report.json files (harness/report/report_plots.h): score vs KV budget, one line per
// policy and the full cache dashed (--kind budget, the default; --subset plots one subset instead of the
// average), or layer coverage vs layer, one line per variant (--kind coverage).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/report/report_file.h"
#include "harness/report/report_plots.h"
#include "harness/report/retention_map.h"

extern char** environ;

namespace kvbench::cli {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first executable `name` in $PATH, or "".
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = paths::join(dir.empty() ? "." : dir, name);
    if (paths::is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Runs `argv` (argv[0] an absolute path) and returns its exit status; stdout/stderr are inherited.
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  KV_CHECK(err == 0, "cannot run ", argv[0], ": ", std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    KV_CHECK(errno == EINTR, "waiting for ", argv[0], " failed: ", std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// SVG → PNG at twice the SVG's pixel size, written atomically: both temporaries sit beside `out`.
void write_png(const std::string& out, const std::string& svg, const std::string& converter) {
  const std::string stem = out + ".tmp." + std::to_string(::getpid());
  const std::string tmp_svg = stem + ".svg", tmp_png = stem + ".png";
  write_file_atomic(tmp_svg, svg);
  int rc = 0;
  try {
    rc = run_program({converter, "--zoom", "2", "--output", tmp_png, tmp_svg});
  } catch (...) {
    paths::remove_file(tmp_svg);
    throw;
  }
  paths::remove_file(tmp_svg);
  if (rc != 0 || !paths::is_regular_file(tmp_png)) {
    paths::remove_file(tmp_png);
    fail("--out ", out, ": rsvg-convert failed (exit status ", rc, ") converting the SVG to PNG");
  }
  paths::rename(tmp_png, out);
}

}  // namespace

Command add_plot_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plot", "figures from kvbench JSON outputs: retention map (--kept), score vs budget or coverage (--report)");
  struct State {
    std::string kept, out, kind = "budget", subset, title;
    std::vector<std::string> reports, variants;
    int head = -1;
    std::int64_t max_columns = 1000;
  };
  auto st = std::make_shared<State>();
  auto* kept = cmd->add_option("--kept", st->kept,
                               "output of kvbench generate --json (its prompt_tokens, policy and kept fields): retention map");
  auto* reports = cmd->add_option("--report", st->reports,
                                  "report.json of kvbench run (several: all their variants): score or coverage plot")
                      ->expected(1, -1);
  kept->excludes(reports);
  cmd->add_option("--out", st->out, "figure to write: FILE.svg, or FILE.png (needs rsvg-convert, from librsvg2-bin)")
      ->required();
  auto* head = cmd->add_option("--head", st->head, "--kept: draw only this KV head (default: every KV head and their union)")
                   ->check(CLI::NonNegativeNumber);
  auto* max_columns =
      cmd->add_option("--max-columns", st->max_columns,
                      "--kept: bin prompt positions into at most this many columns (a cell's shade = fraction kept)")
          ->check(CLI::Range(std::int64_t{1}, std::int64_t{20000}))
          ->capture_default_str();
  auto* kind = cmd->add_option("--kind", st->kind,
                               "--report: budget (score vs KV budget per policy) or coverage (layer coverage vs layer)")
                   ->check(CLI::IsMember({"budget", "coverage"}))
                   ->capture_default_str();
  auto* subset = cmd->add_option("--subset", st->subset, "--report --kind budget: plot this subset's score, not the average");
  auto* variant = cmd->add_option("--variant", st->variants, "--report: only these variants (repeat the option)");
  auto* title = cmd->add_option("--title", st->title, "--report: the figure's title");
  for (auto* opt : {kind, subset, variant, title}) opt->needs(reports);
  for (auto* opt : {head, max_columns}) opt->needs(kept);

  return {cmd, [st] {
            const bool png = ends_with(st->out, ".png");
            KV_CHECK(png || ends_with(st->out, ".svg"), "--out ", st->out, ": the file name must end in .svg or .png");
            std::string converter;
            if (png) {
              converter = find_on_path("rsvg-convert");
              KV_CHECK(!converter.empty(), "--out ", st->out,
                       ": PNG output needs rsvg-convert, which is not on PATH; install librsvg2-bin "
                       "(apt-get install librsvg2-bin) or write an .svg file instead");
            }
            KV_CHECK(!st->kept.empty() || !st->reports.empty(), "plot: give --kept GENERATE.json or --report REPORT.json");
            std::string svg, what;
            if (!st->kept.empty()) {
              const nlohmann::json input = read_json_file(st->kept);
              report::RetentionMapOptions options;
              options.head = st->head;
              options.max_columns = st->max_columns;
              options.source = st->kept;
              svg = report::retention_map_svg(input, options);
              what = "retention map of " + st->kept;
            } else {
              KV_CHECK(st->subset.empty() || st->kind == "budget", "--subset applies to --kind budget only");
              std::vector<report::ReportFile> reports;
              for (const auto& path : st->reports) reports.push_back(report::load_report(path));
              report::ReportPlotOptions options;
              options.subset = st->subset;
              options.variants = st->variants;
              options.title = st->title;
              svg = st->kind == "coverage" ? report::coverage_vs_layer_svg(reports, options)
                                           : report::score_vs_budget_svg(reports, options);
              what = (st->kind == "coverage" ? "coverage plot of " : "score vs budget plot of ") +
                     std::to_string(reports.size()) + " report(s)";
            }
            if (png) {
              write_png(st->out, svg, converter);
            } else {
              write_file_atomic(st->out, svg);
            }
            log::info(what, " written to ", st->out);
          }};
}

}  // namespace kvbench::cli
