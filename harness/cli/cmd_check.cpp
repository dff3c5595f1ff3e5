// kvbench check: regression check of a report.json against a baseline report.json, for CI.
//   kvbench check --report R --baseline B [--tol 0.5] [--intersection] [--format text|junit] [--out FILE]
// Exit status: 0 when no baseline score or average dropped by more than --tol points (scores only in the
// report are fine); 1 when something did, one line per regression on stdout (variant, subset, baseline,
// now, delta; a baseline variant or score missing from the report counts); 2 when the two runs are not
// comparable (another model, other evaluation settings, data, samples, variants or variant definitions: each
// difference on its own line; --intersection compares only the samples, subsets and variants both have) or the
// input is unusable (a missing or malformed file, --tol < 0), with an "error: ..." line on stderr. Usage errors
// (an unknown option, a missing --report) keep CLI11's exit codes (>= 100). --format junit writes the result as
// JUnit XML (to --out, else stdout; the summary then goes to stderr). See harness/report/check.h.
//
// main() maps every exception to exit status 1, which here means "regression"; so this command prints its
// own result and ends the process with std::exit(0|1|2).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/system.h"
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

std::string junit_document(const report::CheckResult& result, const report::Comparability& c, double tol) {
  std::string stamp = system::utc_now();
  if (!stamp.empty() && stamp.back() == 'Z') stamp.pop_back();  // the schema's timestamps carry no zone
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "localhost");
  return report::junit_xml(result, c, tol, stamp, host);
}

}  // namespace

Command add_check_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("check", "compare a report.json with a baseline: exit 0 (ok), 1 (regressions, listed), "
                                          "2 (not comparable, or unusable input)");
  struct State {
    std::string report, baseline, format = "text", out;
    double tol = 0.5;
    bool intersection = false;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--report", st->report, "report.json to check")->required();
  cmd->add_option("--baseline", st->baseline, "report.json it must not fall behind (variants matched by name)")->required();
  cmd->add_option("--tol", st->tol, "allowed drop in points per score and average")->capture_default_str();
  cmd->add_flag("--intersection", st->intersection,
                "compare only the samples, subsets and variants both runs have (subset scores recomputed from the "
                "predictions beside each report.json over the common samples)");
  cmd->add_option("--format", st->format, "text, or junit (JUnit XML for CI systems)")
      ->check(CLI::IsMember({"text", "junit"}))
      ->capture_default_str();
  cmd->add_option("--out", st->out, "with --format junit: write the XML to this file (default: stdout)");

  return {cmd, [st] {
            const bool junit = st->format == "junit";
            std::ostream& summary = junit && st->out.empty() ? std::cerr : std::cout;
            const auto emit = [&](const report::CheckResult& result, const report::Comparability& c) {
              if (!junit) return;
              const std::string xml = junit_document(result, c, st->tol);
              if (st->out.empty()) std::cout << xml;
              else write_file_atomic(st->out, xml);
            };
            report::CheckResult result;
            report::Comparability comparable;
            try {
              KV_CHECK(std::isfinite(st->tol) && st->tol >= 0, "--tol must be a non-negative number of points, got ",
                       st->tol);
              const report::ReportFile baseline = report::load_report(st->baseline);
              const report::ReportFile current = report::load_report(st->report);
              comparable = report::compare_runs(current, baseline, st->intersection);
              for (const auto& note : comparable.notes) std::cerr << "note: " << note << "\n";
              if (!comparable.ok()) {
                std::cerr << "error: " << st->report << " and " << st->baseline << " are not comparable ("
                          << comparable.differences.size() << " difference(s)"
                          << (st->intersection ? "" : "; --intersection compares only the samples and variants both have")
                          << "):\n";
                for (const auto& d : comparable.differences) std::cerr << "  " << d << "\n";
                emit(result, comparable);
                finish(2);
              }
              if (st->intersection) {
                const auto [now, base] = report::intersect_runs(current, baseline);
                result = report::check_report(now, base, st->tol);
              } else {
                result = report::check_report(current, baseline, st->tol);
              }
              emit(result, comparable);
            } catch (const std::exception& e) {
              std::cerr << "error: " << short_error_message(e) << std::endl;
              finish(2);
            }
            for (const auto& r : result.regressions) summary << report::format_regression(r) << "\n";
            const std::string tol = report::format_fixed(st->tol, 2);
            if (result.ok()) {
              summary << "ok: " << st->report << " is within " << tol << " point(s) of " << st->baseline << " on all "
                      << result.scores_compared << " score(s) and " << result.averages_compared << " average(s)"
                      << (st->intersection ? " they share" : "") << "\n";
              finish(0);
            }
            std::cerr << "check: " << result.regressions.size() << " regression(s) of more than " << tol
                      << " point(s) in " << st->report << " against " << st->baseline << std::endl;
            finish(1);
          }};
}

}  // namespace kvbench::cli
