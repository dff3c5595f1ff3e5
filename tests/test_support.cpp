#include "tests/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kvbench::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kvbench-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

CommandResult run_kvbench(const std::string& args, const std::string& workdir) {
  TempDir tmp;
  const std::string cmd = (workdir.empty() ? "" : "cd '" + workdir + "' && ") + std::string(KVBENCH_BINARY) + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(tmp.file("out"));
  r.err = read_file(tmp.file("err"));
  return r;
}

std::optional<std::string> shared_dir() {
  if (const char* env = std::getenv("KVBENCH_SHARED"); env && *env && fs::is_directory(env)) return std::string(env);
  const fs::path beside = fs::path(KVBENCH_SOURCE_DIR).parent_path() / "shared";
  if (fs::is_directory(beside / "data")) return beside.string();
  return std::nullopt;
}

}  // namespace kvbench::test
