// kvbench compare: two variants of one run, sample by sample (harness/report/paired.h).
//   kvbench compare --report R --a VARIANT --b VARIANT [--task T]... [--resamples 10000] [--seed 1]
//                   [--format md|json]
// Per task and over all of them: the samples both variants scored (paired by _id, scored as the official
// scorer scores them, in points), mean difference a - b, wins/ties/losses, the paired bootstrap 95% interval
// and the exact sign test. "all" pools the samples of every task (equal weight per sample, not per task).
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/report/paired.h"
#include "harness/report/report_file.h"
#include "harness/report/run_layout.h"
#include "harness/report/sample_scores.h"

namespace kvbench::cli {
namespace {

struct Pairs {
  std::vector<double> a, b;
  std::size_t unpaired = 0;
};

void add_pairs(const std::map<std::string, double>& a, const std::map<std::string, double>& b, Pairs& out) {
  for (const auto& [id, score] : a) {
    const auto it = b.find(id);
    if (it == b.end()) {
      ++out.unpaired;
      continue;
    }
    out.a.push_back(score);
    out.b.push_back(it->second);
  }
  for (const auto& [id, score] : b) out.unpaired += a.count(id) ? 0 : 1;
}

std::string fixed(double x, int digits = 2) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << x;
  return s.str();
}

}  // namespace

Command add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "paired per-sample comparison of two variants of one run: mean difference, "
                                            "wins/ties/losses, bootstrap 95% CI, sign test");
  struct State {
    std::string report, a, b, format = "md";
    std::vector<std::string> tasks;
    int resamples = 10000;
    std::uint64_t seed = 1;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--report", st->report, "report.json of the run (its predictions folder lies beside it)")->required();
  cmd->add_option("--a", st->a, "variant A (e.g. kvec-128)")->required();
  cmd->add_option("--b", st->b, "variant B (e.g. snapkv-128)")->required();
  cmd->add_option("--task", st->tasks, "only these tasks (default: every subset of the run)");
  cmd->add_option("--resamples", st->resamples, "bootstrap resamples")->check(CLI::Range(1, 10000000));
  cmd->add_option("--seed", st->seed, "bootstrap seed");
  cmd->add_option("--format", st->format, "md or json")->check(CLI::IsMember({"md", "json"}));
  return {cmd, [st] {
            const report::ReportFile rep = report::load_report(st->report);
            const RunLayout layout(paths::parent(st->report));
            const std::vector<std::string> tasks = st->tasks.empty() ? rep.subsets : st->tasks;
            KV_CHECK(!tasks.empty(), st->report, " lists no subsets");
            std::vector<std::pair<std::string, Pairs>> rows;
            Pairs all;
            for (const std::string& task : tasks) {
              Pairs p;
              add_pairs(report::scores_by_id(layout, st->a, task), report::scores_by_id(layout, st->b, task), p);
              KV_CHECK(!p.a.empty(), task, ": no sample was scored for both ", st->a, " and ", st->b);
              all.a.insert(all.a.end(), p.a.begin(), p.a.end());
              all.b.insert(all.b.end(), p.b.begin(), p.b.end());
              all.unpaired += p.unpaired;
              rows.emplace_back(task, std::move(p));
            }
            rows.emplace_back("all", std::move(all));
            nlohmann::json out = {{"report", st->report}, {"a", st->a}, {"b", st->b}, {"resamples", st->resamples},
                                  {"seed", st->seed}, {"tasks", nlohmann::json::object()}};
            if (st->format == "md")
              std::cout << "A = " << st->a << ", B = " << st->b << " (" << rep.run << "); scores in points, diff = A - B, "
                        << "paired bootstrap 95% CI (" << st->resamples << " resamples, seed " << st->seed
                        << "), exact two-sided sign test\n\n| task | n | A | B | diff | 95% CI | wins/ties/losses | sign p |\n"
                        << "|---|---:|---:|---:|---:|---|---|---:|\n";
            for (const auto& [task, p] : rows) {
              const report::PairedStats s = report::compare_paired(p.a, p.b, st->resamples, st->seed);
              out["tasks"][task] = s.to_json();
              out["tasks"][task]["unpaired"] = p.unpaired;
              if (st->format == "md")
                std::cout << "| " << task << " | " << s.n << " | " << fixed(s.mean_a) << " | " << fixed(s.mean_b) << " | "
                          << fixed(s.mean_diff) << " | [" << fixed(s.ci_low) << ", " << fixed(s.ci_high) << "] | " << s.wins
                          << "/" << s.ties << "/" << s.losses << " | " << fixed(s.sign_p, 4) << " |\n";
            }
            if (st->format == "json") std::cout << out.dump(1) << "\n";
            else if (out["tasks"]["all"]["unpaired"].get<std::size_t>() > 0)
              std::cout << "\n" << out["tasks"]["all"]["unpaired"].get<std::size_t>()
                        << " sample(s) were scored for only one of the two and are left out.\n";
          }};
}

}  // namespace kvbench::cli
