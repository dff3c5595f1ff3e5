#include "harness/runner/slurm.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"
#include "harness/runner/shard.h"

namespace kvbench {
namespace {

// Single-quoted for the shell.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The #SBATCH lines both jobs of the run share.
std::string common_header(const SlurmOptions& o, const std::string& name, const std::string& log) {
  std::ostringstream h;
  h << "#!/bin/bash\n#SBATCH --job-name=" << name << "\n#SBATCH --output=" << log << "\n#SBATCH --chdir="
    << system::current_directory() << "\n";
  if (!o.account.empty()) h << "#SBATCH --account=" << o.account << "\n";
  for (const auto& a : o.sbatch_args) h << "#SBATCH " << a << "\n";
  return h.str();
}

// One job's own resources: its partition, time and memory, and one task of `cpus` CPUs.
std::string resources(const std::string& partition, const std::string& time, const std::string& mem, std::int64_t cpus) {
  std::ostringstream h;
  if (!partition.empty()) h << "#SBATCH --partition=" << partition << "\n";
  if (!time.empty()) h << "#SBATCH --time=" << time << "\n";
  h << "#SBATCH --ntasks=1\n";
  if (cpus > 0) h << "#SBATCH --cpus-per-task=" << cpus << "\n";
  if (!mem.empty()) h << "#SBATCH --mem=" << mem << "\n";
  return h.str();
}

// The cluster's own lines (module load, conda activate) before `set -u`: activation scripts often read unset
// variables.
std::string setup_block(const std::string& setup) {
  if (setup.empty()) return "";
  return "# setup (kvbench slurm --setup)\n" + setup + (setup.back() == '\n' ? "" : "\n");
}

void write_script(const std::string& path, const std::string& text) {
  write_file_atomic(path, text);
  KV_CHECK(::chmod(path.c_str(), 0755) == 0, "cannot make ", path, " executable: ", std::strerror(errno));
}

void check_value(const std::string& value, const std::string& flag) {
  KV_CHECK(value.find('\n') == std::string::npos && value.find('\r') == std::string::npos, flag,
           " must be one line, got '", value, "'");
}

}  // namespace

SlurmJob make_slurm_job(const nlohmann::json& input, const std::string& output_dir, const SlurmOptions& o) {
  KV_CHECK(o.shards >= 1 && o.shards <= 100000, "--shards must be in [1, 100000], got ", o.shards);
  KV_CHECK(o.gpus_per_task >= 0 && o.cpus_per_task >= 0 && o.merge_cpus >= 1,
           "--gpus-per-task and --cpus-per-task must be >= 0, --merge-cpus >= 1");
  KV_CHECK(o.gpus_per_task == 0 || o.gres.empty(), "give --gpus-per-task or --gres, not both");
  for (const auto& a : o.sbatch_args)
    KV_CHECK(a.rfind("--", 0) == 0 && a.find('\n') == std::string::npos, "--sbatch-arg takes one sbatch option such "
             "as --qos=normal, got '", a, "'");
  for (const auto& [value, flag] : std::vector<std::pair<std::string, std::string>>{
           {o.partition, "--partition"}, {o.account, "--account"}, {o.time, "--time"}, {o.mem, "--mem"},
           {o.job_name, "--job-name"}, {o.gres, "--gres"}, {o.merge_partition, "--merge-partition"},
           {o.merge_time, "--merge-time"}, {o.merge_mem, "--merge-mem"}})
    check_value(value, flag);
  const std::string out = paths::absolute(output_dir);
  SlurmJob job;
  job.dir = paths::join(out, "slurm");
  job.config = paths::join(job.dir, "run-config.json");
  job.array_script = paths::join(job.dir, "array.sbatch");
  job.merge_script = paths::join(job.dir, "merge.sbatch");
  job.submit_script = paths::join(job.dir, "submit.sh");
  nlohmann::json config = input;
  config["output_dir"] = out;  // every node writes to the one results folder
  job.config_text = config.dump(2) + "\n";

  const std::string kv = paths::absolute(o.kvbench.empty() ? system::self_executable() : o.kvbench);
  const std::string name = o.job_name.empty() ? "kvbench-" + config.value("name", std::string("run")) : o.job_name;
  const std::string n = std::to_string(o.shards);
  const bool gpus = o.gpus_per_task > 0 || !o.gres.empty();
  const std::string device = !o.device.empty() ? o.device : gpus ? "cuda" : "";
  std::ostringstream array;
  array << common_header(o, name, paths::join(job.dir, "shard-%a.log")) << "#SBATCH --array=0-" << o.shards - 1 << "\n"
        << resources(o.partition, o.time, o.mem, o.cpus_per_task);
  if (o.gpus_per_task > 0) array << "#SBATCH --gpus-per-task=" << o.gpus_per_task << "\n";
  if (!o.gres.empty()) array << "#SBATCH --gres=" << o.gres << "\n";
  array << setup_block(o.setup) << "# One shard per task; --resume: a requeued task goes on where it stopped.\nset -euo pipefail\nexec "
        << shell_quote(kv) << " run --config " << shell_quote(job.config) << " --shard \"${SLURM_ARRAY_TASK_ID}/" << n
        << "\" --resume" << (device.empty() ? "" : " --set " + shell_quote("model.device=\"" + device + "\"")) << "\n";
  job.array_text = array.str();

  std::ostringstream merge;
  merge << common_header(o, name + "-merge", paths::join(job.dir, "merge.log"))
        << resources(o.merge_partition, o.merge_time, o.merge_mem, o.merge_cpus) << setup_block(o.setup)
        << "# Runs after every shard succeeded (afterok on the array).\nset -euo pipefail\nexec " << shell_quote(kv) << " merge";
  for (std::size_t i = 0; i < o.shards; ++i) merge << " " << shell_quote(shard_dir(out, Shard{i, o.shards}));
  merge << " --out " << shell_quote(out) << "\n";
  job.merge_text = merge.str();

  job.submit_text = "#!/bin/bash\n# Submits the shards as one job array and the merge to run after all of them.\n"
                    "set -euo pipefail\ncd \"$(dirname \"$0\")\"\narray=$(sbatch --parsable array.sbatch)\narray=${array%%;*}\n"
                    "merge=$(sbatch --parsable --dependency=afterok:${array} merge.sbatch)\nmerge=${merge%%;*}\n"
                    "echo \"array job ${array} (" + n + " tasks), merge job ${merge}\"\n";
  return job;
}

void write_slurm_job(const SlurmJob& job) {
  write_file_atomic(job.config, job.config_text);
  write_script(job.array_script, job.array_text);
  write_script(job.merge_script, job.merge_text);
  write_script(job.submit_script, job.submit_text);
}

std::string submit_slurm_job(const SlurmJob& job) {
  FILE* pipe = ::popen((shell_quote(job.submit_script) + " 2>&1").c_str(), "r");
  KV_CHECK(pipe != nullptr, "cannot run ", job.submit_script, ": ", std::strerror(errno));
  std::string out;
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  KV_CHECK(status == 0, "submitting failed (", job.submit_script, "): ", out);
  return out;
}

}  // namespace kvbench
