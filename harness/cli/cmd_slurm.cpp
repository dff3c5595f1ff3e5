// kvbench slurm: a run as a Slurm job array of shards and a merge job after them (harness/runner/slurm.h).
#include <iostream>
#include <memory>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/runner/run_config.h"
#include "harness/runner/slurm.h"

namespace kvbench::cli {

Command add_slurm_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("slurm", "write (and --submit) a Slurm job array of shards and its merge job");
  struct State {
    std::string config, output_dir, setup_file;
    std::vector<std::string> overrides, setup;
    SlurmOptions slurm;
    bool submit = false, dry_run = false;
  };
  auto st = std::make_shared<State>();
  SlurmOptions& o = st->slurm;
  cmd->add_option("--config", st->config, "the run's JSON config")->required();
  cmd->add_option("--set", st->overrides, "override a config key (as kvbench run --set)");
  cmd->add_option("--output-dir", st->output_dir, "where the run's files go (default: the config's)");
  cmd->add_option("--shards", o.shards, "array tasks, one shard each")->capture_default_str();
  cmd->add_option("--partition", o.partition, "sbatch --partition of the array tasks");
  cmd->add_option("--account", o.account, "sbatch --account of both jobs");
  cmd->add_option("--time", o.time, "sbatch --time per array task, e.g. 04:00:00");
  cmd->add_option("--gpus-per-task", o.gpus_per_task, "sbatch --gpus-per-task of each array task (> 0: the tasks run on cuda)");
  cmd->add_option("--gres", o.gres, "sbatch --gres of each array task instead of --gpus-per-task, e.g. gpu:1");
  cmd->add_option("--cpus-per-task", o.cpus_per_task, "sbatch --cpus-per-task of each array task");
  cmd->add_option("--mem", o.mem, "sbatch --mem per array task, e.g. 64G");
  cmd->add_option("--merge-partition", o.merge_partition, "the merge job's partition (default: the cluster's default)");
  cmd->add_option("--merge-time", o.merge_time, "the merge job's --time")->capture_default_str();
  cmd->add_option("--merge-mem", o.merge_mem, "the merge job's --mem (default: the cluster's default for a job)");
  cmd->add_option("--merge-cpus", o.merge_cpus, "the merge job's --cpus-per-task")->capture_default_str();
  cmd->add_option("--setup", st->setup, "shell lines both jobs run before kvbench, e.g. 'module load cuda/12.4' "
                  "(repeatable; before set -u, so conda activate works)");
  cmd->add_option("--setup-file", st->setup_file, "a file of such lines (before those of --setup)");
  cmd->add_option("--job-name", o.job_name, "sbatch --job-name (default: kvbench-<run name>)");
  cmd->add_option("--device", o.device, "model.device of every task (default: cuda with GPUs, else the config's)");
  cmd->add_option("--sbatch-arg", o.sbatch_args, "another #SBATCH option for both jobs (repeatable), e.g. --qos=normal");
  cmd->add_option("--kvbench", o.kvbench, "the kvbench binary the jobs run (default: this one)");
  cmd->add_flag("--dry-run", st->dry_run, "print both scripts; write and submit nothing");
  cmd->add_flag("--submit", st->submit, "submit the array and the merge (sbatch on PATH)");
  return {cmd, [st] {
            KV_CHECK(!(st->dry_run && st->submit), "--dry-run submits nothing: give one of --dry-run and --submit");
            std::vector<std::string> overrides = st->overrides;
            if (!st->output_dir.empty()) overrides.push_back("output_dir=" + nlohmann::json(st->output_dir).dump());
            const nlohmann::json json = read_run_config(st->config, overrides);  // every path absolute for the nodes
            const RunConfig rc = parse_run_config(json, st->config);  // a bad config fails here, not on the cluster
            if (!st->setup_file.empty()) {
              st->slurm.setup = InputFile(st->setup_file).read_all(std::uint64_t{1} << 20);
            }
            for (const auto& lines : st->setup)
              st->slurm.setup += (st->slurm.setup.empty() || st->slurm.setup.back() == '\n' ? "" : "\n") + lines + "\n";
            const SlurmJob job = make_slurm_job(json, rc.output_dir, st->slurm);
            if (st->dry_run) {
              std::cout << "# " << job.array_script << "\n" << job.array_text << "\n# " << job.merge_script << "\n"
                        << job.merge_text << "\n# (dry run: nothing written; submit.sh would sbatch the array, then the "
                        << "merge with --dependency=afterok on it)\n";
              return;
            }
            write_slurm_job(job);
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
