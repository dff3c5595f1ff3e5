#include "harness/cli/figure_file.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"

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

}  // namespace

bool can_write_png() { return !find_on_path("rsvg-convert").empty(); }

void check_figure_path(const std::string& path, const std::string& option) {
  const bool png = ends_with(path, ".png");
  KV_CHECK(png || ends_with(path, ".svg"), option, " ", path, ": the file name must end in .svg or .png");
  KV_CHECK(!png || can_write_png(), option, " ", path,
           ": PNG output needs rsvg-convert, which is not on PATH; install librsvg2-bin "
           "(apt-get install librsvg2-bin) or write an .svg file instead");
}

void write_figure(const std::string& path, const std::string& svg) {
  if (!ends_with(path, ".png")) return write_file_atomic(path, svg);
  const std::string converter = find_on_path("rsvg-convert");
  KV_CHECK(!converter.empty(), path, ": PNG output needs rsvg-convert, which is not on PATH");
  const std::string target = check_output_file(path);  // a regular file or nothing, and none of the inputs
  const std::string stem = target + ".tmp." + std::to_string(::getpid());
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
    fail(path, ": rsvg-convert failed (exit status ", rc, ") converting the SVG to PNG");
  }
  check_output_file(target);
  paths::rename(tmp_png, target);
}

}  // namespace kvbench::cli
