// kvbench plot: figures from kvbench's JSON outputs, as SVG (our own writer) or PNG (through rsvg-convert).
//   kvbench plot --kept GENERATE.json --out FILE.svg|FILE.png [--head H] [--max-columns N]
//   kvbench plot --report R... --out FILE.svg|FILE.png [--kind budget|coverage] [--subset NAME]
//                [--variant NAME]... [--title TEXT]
// --kept: the retention map of `kvbench generate --json` output (which prompt positions each layer and KV
// head kept; see harness/report/retention_map.h).
// --report: figures of report.json files (harness/report/report_plots.h): score vs KV budget, one line per
// policy and the full cache dashed (--kind budget, the default; --subset plots one subset instead of the
// average), or layer coverage vs layer, one line per variant (--kind coverage).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "harness/cli/commands.h"
#include "harness/cli/figure_file.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/report/report_file.h"
#include "harness/report/report_plots.h"
#include "harness/report/retention_map.h"

namespace kvbench::cli {

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
            check_figure_path(st->out, "--out");
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
            write_figure(st->out, svg);
            log::info(what, " written to ", st->out);
          }};
}

}  // namespace kvbench::cli
