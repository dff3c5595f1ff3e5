// kvbench merge: joins the shard folders of one run (kvbench run --shard I/N, or --devices, or kvbench slurm) into
// one run folder and report (harness/runner/shard.h).
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/runner/runner.h"
#include "harness/runner/shard.h"

namespace kvbench::cli {

Command add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "join the shard folders of one run into one run folder and report");
  struct State {
    std::vector<std::string> shards;
    std::string out;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("shards", st->shards, "the shard folders (<output_dir>/shards/I-of-N), all N of them")->required();
  cmd->add_option("--out", st->out, "the merged run folder (default: the run's output_dir)");
  return {cmd, [st] {
            std::string command = "kvbench merge";
            for (const auto& s : st->shards) command += " " + s;
            if (!st->out.empty()) command += " --out " + st->out;
            const MergeResult r = merge_shards(st->shards, st->out, command);
            std::cout << "merged " << r.shards << " shards (" << r.samples << " samples, " << r.rows
                      << " prediction rows) into " << r.output_dir << "\n";
            print_run_summary(r.report, r.output_dir, r.error_rows);
          }};
}

}  // namespace kvbench::cli
