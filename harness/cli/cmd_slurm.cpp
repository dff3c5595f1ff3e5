// kvbench slurm: a run as a Slurm job array of shards and a merge job after them (harness/runner/slurm.h).
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/json_util.h"
#include "harness/runner/run_config.h"
#include "harness/runner/slurm.h"

namespace kvbench::cli {

Command add_slurm_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("slurm", "write (and --submit) a Slurm job array of shards and its merge job");
  struct State {
    std::string config, output_dir;
    std::vector<std::string> overrides;
    SlurmOptions slurm;
    bool submit = false;
  };
  auto st = std::make_shared<State>();
  SlurmOptions& o = st->slurm;
  cmd->add_option("--config", st->config, "the run's JSON config")->required();
  cmd->add_option("--set", st->overrides, "override a config key (as kvbench run --set)");
  cmd->add_option("--output-dir", st->output_dir, "where the run's files go (default: the config's)");
  cmd->add_option("--shards", o.shards, "array tasks, one shard each")->capture_default_str();
  cmd->add_option("--partition", o.partition, "sbatch --partition");
  cmd->add_option("--account", o.account, "sbatch --account");
  cmd->add_option("--time", o.time, "sbatch --time per task, e.g. 04:00:00");
  cmd->add_option("--gpus-per-task", o.gpus_per_task, "sbatch --gpus-per-task (> 0: the tasks run on cuda)");
  cmd->add_option("--cpus-per-task", o.cpus_per_task, "sbatch --cpus-per-task");
  cmd->add_option("--mem", o.mem, "sbatch --mem per task, e.g. 64G");
  cmd->add_option("--job-name", o.job_name, "sbatch --job-name (default: kvbench-<run name>)");
  cmd->add_option("--device", o.device, "model.device of every task (default: cuda with GPUs, else the config's)");
  cmd->add_option("--sbatch-arg", o.sbatch_args, "another #SBATCH option for every job (repeatable), e.g. --qos=normal");
  cmd->add_option("--kvbench", o.kvbench, "the kvbench binary the jobs run (default: this one)");
  cmd->add_flag("--submit", st->submit, "submit the array and the merge (sbatch on PATH)");
  return {cmd, [st] {
            nlohmann::json json = read_json_file(st->config, /*allow_comments=*/true);
            std::vector<std::string> overrides = st->overrides;
            if (!st->output_dir.empty()) overrides.push_back("output_dir=\"" + st->output_dir + "\"");
            apply_overrides(json, overrides);
            const RunConfig rc = parse_run_config(json, st->config);  // a bad config fails here, not on the cluster
            const SlurmJob job = write_slurm_job(json, rc.output_dir, st->slurm);
            std::cout << "wrote " << job.array_script << " (" << st->slurm.shards << " tasks), " << job.merge_script
                      << " and " << job.submit_script << "\n";
            if (!st->submit) {
              std::cout << "submit with: " << job.submit_script << "\n";
              return;
            }
            std::cout << submit_slurm_job(job);
          }};
}

}  // namespace kvbench::cli
