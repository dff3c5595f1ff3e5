#include "harness/runner/workers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>

#include "harness/common/error.h"
#include "harness/common/interrupt.h"
#include "harness/common/files.h"
#include "harness/common/folder_lock.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"
#include "harness/model/tensor_util.h"
#include "harness/runner/run_checks.h"
#include "harness/runner/shard.h"

namespace kvbench {
namespace {

struct Worker {
  std::string device;
  Shard shard;
  std::string dir, log;
  pid_t pid = -1;
  int status = 0;
  bool running = false;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  ::strsignal(WTERMSIG(status)) + ")";
  return "ended with status " + std::to_string(status);
}

// The last lines of a worker's log, for the error message.
std::string log_tail(const std::string& path, std::size_t lines) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO put there must not block
  if (fd >= 0) {
    char buf[8192];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  }
  std::vector<std::string> all;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) all.push_back("    " + text.substr(start, end - start));
    start = end + 1;
  }
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// Forks worker `w`: its output goes to its log, it dies with this process (PR_SET_PDEATHSIG), and CPU workers
// share the cores (OMP_NUM_THREADS) instead of each taking them all.
void start(Worker& w, const std::vector<std::string>& argv, int cpu_threads) {
  paths::create_directories(w.dir);
  check_output_file(w.log);  // a FIFO or a device put there must not block or swallow the log
  const int log_fd = ::open(w.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
  KV_CHECK(log_fd >= 0, "cannot open worker log ", w.log, ": ", std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  KV_CHECK(pid >= 0, "cannot start a worker: ", std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (cpu_threads > 0) ::setenv("OMP_NUM_THREADS", std::to_string(cpu_threads).c_str(), 1);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  w.pid = pid;
  w.running = true;
  write_file_atomic(paths::join(w.dir, "worker.pid"), std::to_string(pid) + "\n");
  log::info("worker ", w.shard.index, " (", w.device, ", pid ", pid, "): shard ", w.shard.name(), ", log ", w.log);
}

// Complete lines of a file another process is appending to (read only: never repaired, unlike read_jsonl_rows).
std::size_t count_lines(const std::string& path) {
  std::size_t lines = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // a FIFO put there must not block
  if (fd < 0) return 0;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) lines += static_cast<std::size_t>(std::count(buf, buf + n, '\n'));
  ::close(fd);
  return lines;
}

// Samples a worker has finished (rows of the first variant, predictions and errors) of how many it owns.
std::string worker_progress(const RunConfig& rc, const Worker& w) {
  const std::string manifest = paths::join(w.dir, "shard.json");
  if (!paths::is_regular_file(manifest)) return "starting";
  std::size_t done = 0;
  const RunLayout layout(w.dir);
  for (const auto& subset : rc.uses_datasets() ? rc.subsets : std::vector<std::string>{"prompt"})
    for (const std::string& file : {layout.predictions(rc.variants[0].name, subset), layout.errors(rc.variants[0].name, subset)})
      done += count_lines(file);
  const nlohmann::json shard = read_own_json_file(manifest);
  const std::size_t tasks = shard.is_object() && shard.contains("tasks") ? shard["tasks"].size() : 0;
  return std::to_string(done) + "/" + std::to_string(tasks) + " samples";
}

// Waits for every worker, saying when each ends and, every 30 s, how far each is.
// A SIGINT or SIGTERM to this process is passed on to every worker once (each then stops after its sample).
void wait_all(const RunConfig& rc, std::vector<Worker>& workers) {
  std::size_t running = workers.size();
  auto last_note = std::chrono::steady_clock::now();
  bool forwarded = false;
  while (running > 0) {
    if (interrupt_signal() != 0 && !forwarded) {
      for (const auto& w : workers)
        if (w.running) ::kill(w.pid, interrupt_signal());
      forwarded = true;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (auto& w : workers)
        if (w.pid == pid && w.running) {
          w.running = false;
          w.status = status;
          --running;
          log::info("worker ", w.shard.index, " (", w.device, ") ", describe_status(status));
        }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() - last_note > std::chrono::seconds(30)) {
      std::string state;
      for (const auto& w : workers)
        state += "; worker " + std::to_string(w.shard.index) + ": " + (w.running ? worker_progress(rc, w) : "done");
      log::info(running, " of ", workers.size(), " workers running", state);
      last_note = std::chrono::steady_clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

void run_on_devices(const RunConfig& rc, const RunOptions& options) {
  KV_CHECK(!options.shard, "--devices and --shard do not combine: --devices runs every shard itself");
  KV_CHECK(!options.input_config.is_null(), "internal error: --devices without the input config");
  const std::size_t n = options.devices.size();
  std::size_t cpu_workers = 0;
  for (const auto& d : options.devices) {
    parse_device(d);  // every device named exists and is usable, before anything starts
    cpu_workers += d == "cpu" ? 1 : 0;
  }
  const int cpu_threads =
      cpu_workers == 0 ? 0 : static_cast<int>(std::max<unsigned>(1, std::thread::hardware_concurrency() / cpu_workers));
  // The merge at the end writes to output_dir: a run of its own there is refused now, not after the work.
  const RunLayout layout(rc.output_dir);
  KV_CHECK(!paths::exists(paths::join(rc.output_dir, "predictions")) ||
               (paths::exists(layout.manifest()) && read_manifest(layout.manifest()).contains("merged_from")),
           "'", rc.output_dir, "' holds a run that is not a merge of shards: choose another output_dir for --devices");
  // A resumed shard must go on computing what it started: checked here too, before any worker starts.
  for (std::size_t i = 0; i < n; ++i) {
    RunConfig shard = rc;
    shard.output_dir = shard_dir(rc.output_dir, Shard{i, n});
    check_output_dir(shard, options);
  }
  // This process owns output_dir until the merge is written; each worker owns its shard folder.
  std::unique_ptr<FolderLock> lock;
  if (!options.dry_run) lock = std::make_unique<FolderLock>(rc.output_dir, options.command_line);
  const std::string config_path = paths::join(paths::join(rc.output_dir, "shards"), "workers-config.json");
  if (!options.dry_run) write_json_file(config_path, options.input_config);
  std::vector<Worker> workers(n);
  const std::string exe = system::self_executable();
  for (std::size_t i = 0; i < n; ++i) {
    Worker& w = workers[i];
    w.device = options.devices[i];
    w.shard = Shard{i, n};
    w.dir = shard_dir(rc.output_dir, w.shard);
    w.log = paths::join(w.dir, "worker.log");
    std::vector<std::string> argv = {exe, "run", "--config", config_path, "--shard", std::to_string(i) + "/" + std::to_string(n),
                                     "--set", "model.device=\"" + w.device + "\""};
    if (options.resume) argv.push_back("--resume");
    if (options.fail_fast) argv.push_back("--fail-fast");
    if (options.dry_run) {
      std::cout << "worker " << i << " on " << w.device << ": kvbench run --config " << config_path << " --shard " << i
                << "/" << n << " (log " << w.log << ")\n";
      continue;
    }
    start(w, argv, w.device == "cpu" ? cpu_threads : 0);
  }
  if (options.dry_run) return;
  {
    const InterruptScope interrupt_scope;
    wait_all(rc, workers);
  }
  std::string failed;
  for (const auto& w : workers)
    if (!WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0)
      failed += "\n  worker " + std::to_string(w.shard.index) + " (" + w.device + ", shard " + w.dir + ") " +
                describe_status(w.status) + "; the end of " + w.log + ":\n" + log_tail(w.log, 5);
  const bool resumed = options.command_line.find("--resume") != std::string::npos;
  if (const int sig = interrupt_signal(); sig != 0)
    throw Interrupted(detail::concat("interrupted by ", signal_name(sig), "; every worker saved its finished samples; "
                                     "resume with: ", options.command_line, resumed ? "" : " --resume"),
                      sig);
  if (!failed.empty()) {
    fail("worker(s) failed; the finished samples of every shard are kept:", failed, "\nresume with: ",
         options.command_line, resumed ? "" : " --resume");
  }
  std::vector<std::string> dirs;
  for (const auto& w : workers) dirs.push_back(w.dir);
  const MergeResult merged = merge_shards(dirs, rc.output_dir, options.command_line, lock.get());
  log::info("merged ", merged.shards, " shards (", merged.samples, " samples) into ", merged.output_dir);
  print_run_summary(merged.report, merged.output_dir, merged.error_rows);
  if (rc.uses_datasets()) write_budget_plot(rc.output_dir);
}

}  // namespace kvbench
