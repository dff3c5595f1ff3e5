#pragma once
// `kvbench slurm`: a run spread over a Slurm cluster as the scheduler's own job array. It writes, under
// <output_dir>/slurm/, the config the shards read, array.sbatch (task i runs `kvbench run --shard i/N --resume`,
// so a requeued or resubmitted task continues where it stopped), merge.sbatch (kvbench merge of all shards, with
// resources of its own: it needs no GPU and little time) and submit.sh, which submits the array and the merge with
// --dependency=afterok on it. Nothing is shared between the nodes but the results folder (and the model and data
// the config names). The scripts use options Slurm has taken from 20.11 to 24.x: each array task is one task
// (--ntasks=1) with --gpus-per-task or --gres for its GPUs.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

struct SlurmOptions {
  std::size_t shards = 2;
  std::string partition, account, time, mem, job_name;  ///< the array tasks' (account and job name: both jobs')
  std::int64_t gpus_per_task = 0, cpus_per_task = 0;
  std::string gres;                      ///< instead of gpus_per_task, e.g. "gpu:a100:1"
  std::string merge_partition;           ///< "" : the cluster's default partition
  std::string merge_time = "01:00:00";
  std::string merge_mem;                 ///< "" : the cluster's default memory for a job
  std::int64_t merge_cpus = 1;
  std::string setup;                     ///< shell lines both jobs run before kvbench (module load, conda activate)
  std::string device;                    ///< model.device for every task ("" : cuda with GPUs, else the config's)
  std::vector<std::string> sbatch_args;  ///< extra "#SBATCH" lines for both jobs, e.g. "--qos=normal"
  std::string kvbench;                   ///< the binary the jobs run ("" : this one)
};

/// The files of one job, with their contents.
struct SlurmJob {
  std::string dir, config, array_script, merge_script, submit_script;  ///< paths
  std::string config_text, array_text, merge_text, submit_text;
};

/// The scripts for `input_config` (the config as given, --set applied, its paths absolute), whose run writes to
/// `output_dir`; paths in the scripts are absolute, and the jobs start in the current directory. Writes nothing.
SlurmJob make_slurm_job(const nlohmann::json& input_config, const std::string& output_dir, const SlurmOptions& options);
/// Writes the job's files (the scripts executable).
void write_slurm_job(const SlurmJob& job);

/// Runs submit.sh (sbatch must be on PATH) and returns what it printed: the array's and the merge's job ids.
std::string submit_slurm_job(const SlurmJob& job);

}  // namespace kvbench
