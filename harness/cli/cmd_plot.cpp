// kvbench plot: figures from kvbench's JSON outputs, as SVG (our own writer) or PNG (through rsvg-convert).
//   kvbench plot --kept GENERATE.json --out FILE.svg|FILE.png [--head H] [--max-columns N]
// --kept: the retention map of `kvbench generate --json` output (which prompt positions each layer and KV
// head kept; see harness/report/retention_map.h).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness/cli/commands.h"
#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/log.h"
#include "harness/common/paths.h"
#include "harness/report/retention_map.h"

extern char** environ;

namespace kvbench::cli {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first executable `name` in $PATH, or "".
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = paths::join(dir.empty() ? "." : dir, name);
    if (paths::is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Runs `argv` (argv[0] an absolute path) and returns its exit status; stdout/stderr are inherited.
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  KV_CHECK(err == 0, "cannot run ", argv[0], ": ", std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    KV_CHECK(errno == EINTR, "waiting for ", argv[0], " failed: ", std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// SVG → PNG at twice the SVG's pixel size, written atomically: both temporaries sit beside `out`.
void write_png(const std::string& out, const std::string& svg, const std::string& converter) {
  const std::string stem = out + ".tmp." + std::to_string(::getpid());
  const std::string tmp_svg = stem + ".svg", tmp_png = stem + ".png";
  write_file_atomic(tmp_svg, svg);
  int rc = 0;
  try {
    rc = run_program({converter, "--zoom", "2", "--output", tmp_png, tmp_svg});
  } catch (...) {
    paths::remove_file(tmp_svg);
    throw;
  }
  paths::remove_file(tmp_svg);
  if (rc != 0 || !paths::is_regular_file(tmp_png)) {
    paths::remove_file(tmp_png);
    fail("--out ", out, ": rsvg-convert failed (exit status ", rc, ") converting the SVG to PNG");
  }
  paths::rename(tmp_png, out);
}

}  // namespace

Command add_plot_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plot", "figures from kvbench JSON outputs: the retention map of generate --json");
  struct State {
    std::string kept, out;
    int head = -1;
    std::int64_t max_columns = 1000;
  };
  auto st = std::make_shared<State>();
  cmd->add_option("--kept", st->kept, "output of kvbench generate --json (its prompt_tokens, policy and kept fields)")
      ->required();
  cmd->add_option("--out", st->out, "figure to write: FILE.svg, or FILE.png (needs rsvg-convert, from librsvg2-bin)")
      ->required();
  cmd->add_option("--head", st->head, "draw only this KV head (default: every KV head and their union)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-columns", st->max_columns,
                  "bin prompt positions into at most this many columns (a cell's shade = fraction of its positions kept)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{20000}))
      ->capture_default_str();

  return {cmd, [st] {
            const bool png = ends_with(st->out, ".png");
            KV_CHECK(png || ends_with(st->out, ".svg"), "--out ", st->out, ": the file name must end in .svg or .png");
            std::string converter;
            if (png) {
              converter = find_on_path("rsvg-convert");
              KV_CHECK(!converter.empty(), "--out ", st->out,
                       ": PNG output needs rsvg-convert, which is not on PATH; install librsvg2-bin "
                       "(apt-get install librsvg2-bin) or write an .svg file instead");
            }
            const nlohmann::json input = read_json_file(st->kept);
            report::RetentionMapOptions options;
            options.head = st->head;
            options.max_columns = st->max_columns;
            options.source = st->kept;
            const std::string svg = report::retention_map_svg(input, options);
            if (png) {
              write_png(st->out, svg, converter);
            } else {
              write_file_atomic(st->out, svg);
            }
            log::info("retention map of ", st->kept, " written to ", st->out);
          }};
}

}  // namespace kvbench::cli
