// kvbench analyze: does coverage predict score? (harness/report/coverage_analysis.h)
//   kvbench analyze --report R [--task T]... [--format md|json] [--plot PREFIX]
// Joins each compressed variant's per-sample scores with the coverage statistics of its prediction rows and
// prints Spearman correlations of score with each statistic: over all samples, within each budget and within
// each task. --plot PREFIX also writes PREFIX-<statistic>.svg per statistic (score vs statistic, colored by
// policy) and, where rsvg-convert is on PATH, PREFIX-<statistic>.png beside it.
#include <algorithm>
#include <iostream>
#include <memory>

#include "datasets/subset.h"
#include "harness/cli/commands.h"
#include "harness/cli/figure_file.h"
#include "harness/common/error.h"
#include "harness/common/log.h"
#include "harness/report/coverage_analysis.h"
#include "harness/report/report_file.h"
#include "harness/report/report_plots.h"

namespace kvbench::cli {

Command add_analyze_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("analyze", "does coverage predict score? Spearman correlations of per-sample score "
                                            "with each coverage statistic (pooled, per budget, per task) and scatter plots");
  struct State {
    std::string report, format = "md", plot;
    std::vector<std::string> tasks;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--report", st->report, "report.json of the run (its predictions folder lies beside it)")->required();
  cmd->add_option("--task", st->tasks, "only these tasks (default: every subset of the run)");
  cmd->add_option("--format", st->format, "md or json")->check(CLI::IsMember({"md", "json"}));
  cmd->add_option("--plot", st->plot, "also write PREFIX-<statistic>.svg (and .png where rsvg-convert exists)");
  return {cmd, [st] {
            const report::ReportFile rep = report::load_report(st->report);
            for (const std::string& t : st->tasks) {
              std::string known;
              for (const std::string& s : rep.subsets) known += (known.empty() ? "" : ", ") + s;
              KV_CHECK(std::find(rep.subsets.begin(), rep.subsets.end(), t) != rep.subsets.end(), "--task ", t,
                       ": the run has no such subset (it has ", known, ")");
            }
            const std::vector<std::string> tasks = st->tasks.empty() ? rep.subsets : st->tasks;
            const auto points = report::read_coverage_points(rep, tasks);
            const auto rows = report::correlate_coverage(points, tasks);
            if (st->format == "json") {
              std::cout << report::correlations_json(rows, rep.run).dump(2) << "\n";
            } else {
              std::cout << report::correlations_markdown(rows, rep.run);
            }
            if (st->plot.empty()) return;
            const bool png = can_write_png();
            for (const std::string& stat : report::coverage_statistic_names()) {
              if (!rows.front().by_statistic.count(stat)) continue;  // no sample records it (no evidence marked)
              const std::string svg = report::score_vs_statistic_svg(points, stat, rep.run, suite_of(tasks));
              for (const std::string& ext : png ? std::vector<std::string>{".svg", ".png"} : std::vector<std::string>{".svg"}) {
                write_figure(st->plot + "-" + stat + ext, svg);
                log::info("score vs ", stat, " written to ", st->plot + "-" + stat + ext);
              }
            }
            if (!png) log::info("no PNG: rsvg-convert is not on PATH (apt-get install librsvg2-bin)");
          }};
}

}  // namespace kvbench::cli
