// kvbench check: regression check of a report.json against a baseline report.json, for CI.
//   kvbench check --report R --baseline B [--tol 0.5]
// Exit status: 0 when no baseline score or average dropped by more than --tol points (scores only in the
// report are fine); 1 when something did, one line per regression on stdout (variant, subset, baseline,
// now, delta; a baseline variant or score missing from the report counts); 2 when the input is unusable
// (a missing or malformed file, --tol < 0), with an "error: ..." line on stderr. Usage errors (an unknown
// option, a missing --report) keep CLI11's exit codes (>= 100). See harness/report/check.h.
//
// main() maps every exception to exit status 1, which here means "regression"; so this command prints its
// own result and ends the process with std::exit(0|1|2).
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/report/check.h"
#include "harness/report/report_file.h"
#include "harness/report/table.h"

namespace kvbench::cli {

namespace {

[[noreturn]] void finish(int status) {
  std::cout.flush();
  std::cerr.flush();
  std::exit(status);
}

}  // namespace

Command add_check_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("check",
                                 "compare a report.json with a baseline: exit 0 (ok), 1 (regressions, listed), 2 (unusable input)");
  struct State {
    std::string report, baseline;
    double tol = 0.5;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--report", st->report, "report.json to check")->required();
  cmd->add_option("--baseline", st->baseline, "report.json it must not fall behind (variants matched by name)")->required();
  cmd->add_option("--tol", st->tol, "allowed drop in points per score and average")->capture_default_str();

  return {cmd, [st] {
            report::CheckResult result;
            try {
              KV_CHECK(std::isfinite(st->tol) && st->tol >= 0, "--tol must be a non-negative number of points, got ",
                       st->tol);
              const report::ReportFile baseline = report::load_report(st->baseline);
              const report::ReportFile current = report::load_report(st->report);
              result = report::check_report(current, baseline, st->tol);
            } catch (const std::exception& e) {
              std::cerr << "error: " << short_error_message(e) << std::endl;
              finish(2);
            }
            for (const auto& r : result.regressions) std::cout << report::format_regression(r) << "\n";
            const std::string tol = report::format_fixed(st->tol, 2);
            if (result.ok()) {
              std::cout << "ok: " << st->report << " is within " << tol << " point(s) of " << st->baseline << " on all "
                        << result.scores_compared << " score(s) and " << result.averages_compared << " average(s)\n";
              finish(0);
            }
            std::cerr << "check: " << result.regressions.size() << " regression(s) of more than " << tol
                      << " point(s) in " << st->report << " against " << st->baseline << std::endl;
            finish(1);
          }};
}

}  // namespace kvbench::cli
