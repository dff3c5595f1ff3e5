#pragma once
// `kvbench slurm`: a run spread over a Slurm cluster as the scheduler's own job array. It writes, under
// <output_dir>/slurm/, the config the shards read, array.sbatch (task i runs `kvbench run --shard i/N --resume`,
// so a requeued or resubmitted task continues where it stopped), merge.sbatch (kvbench merge of all shards) and
// submit.sh, which submits the array and the merge with --dependency=afterok on it. Nothing is shared between
// the nodes but the results folder (and the model and data the config names).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

struct SlurmOptions {
  std::size_t shards = 2;
  std::string partition, account, time, mem, job_name;
  std::int64_t gpus_per_task = 0, cpus_per_task = 0;
  std::string device;                    ///< model.device for every task ("" : cuda with GPUs, else the config's)
  std::vector<std::string> sbatch_args;  ///< extra "#SBATCH" lines, e.g. "--qos=normal"
  std::string kvbench;                   ///< the binary the jobs run ("" : this one)
};

struct SlurmJob {
  std::string dir, config, array_script, merge_script, submit_script;
};

/// Writes the scripts for `input_config` (the config as given, --set applied), whose run writes to
/// `output_dir`; paths in the scripts are absolute, and the jobs start in the current directory.
SlurmJob write_slurm_job(const nlohmann::json& input_config, const std::string& output_dir, const SlurmOptions& options);

/// Runs submit.sh (sbatch must be on PATH) and returns what it printed: the array's and the merge's job ids.
std::string submit_slurm_job(const SlurmJob& job);

}  // namespace kvbench
