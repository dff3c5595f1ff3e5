// kvbench table: the paper-style LongBench table of report.json files, optionally beside published numbers.
//   kvbench table --report R... [--format md|csv|latex|json] [--paper published/longbench.csv] [--model NAME]
//                 [--digits 2] [--coverage]
// Rows: the variants of every report, in order; columns: the subsets scored (English 16 in the official
// order first), the category averages and the average, all recomputed from the scores shown; with
// --coverage, then each variant's mean coverage statistics in percent. With --paper, the published rows of each
// variant's policy and budget measured as it was (budget definition, granularity, protocol); the others are
// listed as unpaired with the reason. See harness/report/table.h and published.h.
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/report/report_file.h"
#include "harness/report/table.h"

namespace kvbench::cli {

Command add_table_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("table", "the paper-style LongBench table of report.json files (md, csv, latex, json)");
  struct State {
    std::vector<std::string> reports;
    std::string format = "md", paper, model;
    int digits = 2;
    bool coverage = false;
    bool ci = false;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--report", st->reports, "report.json of kvbench run (several: rows of all, in order)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--format", st->format, "md, csv, latex or json")
      ->check(CLI::IsMember({"md", "csv", "latex", "json"}))
      ->capture_default_str();
  cmd->add_option("--paper", st->paper,
                  "published numbers to show beside ours (the shipped published/longbench.csv, or a CSV of the same "
                  "columns: published/README.md)");
  cmd->add_option("--model", st->model, "with --paper: only published rows of this model (the CSV's model column)");
  cmd->add_option("--digits", st->digits, "decimals of every number")->check(CLI::Range(0, 6))->capture_default_str();
  cmd->add_flag("--coverage", st->coverage,
                "after the average: mean model/layer coverage, head overlap and evidence recall in % "
                "(report.json coverage; missing for published rows)");
  cmd->add_flag("--ci", st->ci,
                "after the average: its 95% interval (bootstrap over the run's per-sample scores, stratified by "
                "subset; 10,000 resamples, seed 1; needs the predictions beside report.json)");

  return {cmd, [st] {
            KV_CHECK(st->model.empty() || !st->paper.empty(), "--model selects rows of --paper; give --paper too");
            std::vector<report::ReportFile> reports;
            for (const auto& path : st->reports) reports.push_back(report::load_report(path));
            report::TableOptions options;
            if (!st->paper.empty()) options.paper = report::load_paper_csv(st->paper);
            options.model = st->model;
            options.coverage = st->coverage;
            options.ci = st->ci;
            const report::Table table = report::build_table(reports, options);
            std::cout << report::render_table(table, report::parse_table_format(st->format), st->digits) << std::flush;
          }};
}

}  // namespace kvbench::cli
