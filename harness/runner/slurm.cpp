#include "harness/runner/slurm.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"
#include "harness/runner/shard.h"

namespace kvbench {
namespace {

std::string absolute(const std::string& path) {
  return !path.empty() && path[0] == '/' ? path : paths::join(system::current_directory(), path);
}

// Single-quoted for the shell.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The #SBATCH lines every job of the run shares.
std::string common_header(const SlurmOptions& o, const std::string& name, const std::string& log) {
  std::ostringstream h;
  h << "#!/bin/bash\n#SBATCH --job-name=" << name << "\n#SBATCH --output=" << log << "\n#SBATCH --chdir="
    << system::current_directory() << "\n";
  if (!o.partition.empty()) h << "#SBATCH --partition=" << o.partition << "\n";
  if (!o.account.empty()) h << "#SBATCH --account=" << o.account << "\n";
  if (!o.time.empty()) h << "#SBATCH --time=" << o.time << "\n";
  for (const auto& a : o.sbatch_args) h << "#SBATCH " << a << "\n";
  return h.str();
}

void write_script(const std::string& path, const std::string& text) {
  write_file_atomic(path, text);
  KV_CHECK(::chmod(path.c_str(), 0755) == 0, "cannot make ", path, " executable: ", std::strerror(errno));
}

}  // namespace

SlurmJob write_slurm_job(const nlohmann::json& input, const std::string& output_dir, const SlurmOptions& o) {
  KV_CHECK(o.shards >= 1 && o.shards <= 100000, "--shards must be in [1, 100000], got ", o.shards);
  KV_CHECK(o.gpus_per_task >= 0 && o.cpus_per_task >= 0, "--gpus-per-task and --cpus-per-task must be >= 0");
  for (const auto& a : o.sbatch_args)
    KV_CHECK(a.rfind("--", 0) == 0 && a.find('\n') == std::string::npos, "--sbatch-arg takes one sbatch option such "
             "as --qos=normal, got '", a, "'");
  const std::string out = absolute(output_dir);
  SlurmJob job;
  job.dir = paths::join(out, "slurm");
  job.config = paths::join(job.dir, "run-config.json");
  job.array_script = paths::join(job.dir, "array.sbatch");
  job.merge_script = paths::join(job.dir, "merge.sbatch");
  job.submit_script = paths::join(job.dir, "submit.sh");
  nlohmann::json config = input;
  config["output_dir"] = out;  // every node writes to the one results folder
  write_json_file(job.config, config);

  const std::string kv = absolute(o.kvbench.empty() ? system::self_executable() : o.kvbench);
  const std::string name = o.job_name.empty() ? "kvbench-" + config.value("name", std::string("run")) : o.job_name;
  const std::string n = std::to_string(o.shards);
  const std::string device = !o.device.empty() ? o.device : o.gpus_per_task > 0 ? "cuda" : "";
  std::ostringstream array;
  array << common_header(o, name, paths::join(job.dir, "shard-%a.log")) << "#SBATCH --array=0-" << o.shards - 1 << "\n";
  if (o.gpus_per_task > 0) array << "#SBATCH --gpus-per-task=" << o.gpus_per_task << "\n";
  if (o.cpus_per_task > 0) array << "#SBATCH --cpus-per-task=" << o.cpus_per_task << "\n";
  if (!o.mem.empty()) array << "#SBATCH --mem=" << o.mem << "\n";
  array << "# One shard per task; --resume: a requeued task goes on where it stopped.\nset -euo pipefail\nexec "
        << shell_quote(kv) << " run --config " << shell_quote(job.config) << " --shard \"${SLURM_ARRAY_TASK_ID}/" << n
        << "\" --resume" << (device.empty() ? "" : " --set " + shell_quote("model.device=\"" + device + "\"")) << "\n";
  write_script(job.array_script, array.str());

  std::ostringstream merge;
  merge << common_header(o, name + "-merge", paths::join(job.dir, "merge.log"))
        << "# Runs after every shard succeeded (afterok on the array).\nset -euo pipefail\nexec " << shell_quote(kv) << " merge";
  for (std::size_t i = 0; i < o.shards; ++i) merge << " " << shell_quote(shard_dir(out, Shard{i, o.shards}));
  merge << " --out " << shell_quote(out) << "\n";
  write_script(job.merge_script, merge.str());

  write_script(job.submit_script,
               "#!/bin/bash\n# Submits the shards as one job array and the merge to run after all of them.\n"
               "set -euo pipefail\ncd \"$(dirname \"$0\")\"\narray=$(sbatch --parsable array.sbatch)\narray=${array%%;*}\n"
               "merge=$(sbatch --parsable --dependency=afterok:${array} merge.sbatch)\nmerge=${merge%%;*}\n"
               "echo \"array job ${array} (" + n + " tasks), merge job ${merge}\"\n");
  return job;
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
