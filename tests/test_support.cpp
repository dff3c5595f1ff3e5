#include "tests/test_support.h"

#include "harness/common/error.h"
#include "harness/common/paths.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kvbench::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kvbench-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  try {
    paths::remove_all(path_);
  } catch (const std::exception&) {
    // Leave it behind rather than throw from a destructor.
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& content) {
  const std::string parent = paths::parent(path);
  if (!parent.empty()) paths::create_directories(parent);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("test::write_file: cannot write " + path);
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
  if (const char* env = std::getenv("KVBENCH_SHARED"); env && *env && paths::is_directory(env)) return std::string(env);
  const std::string beside = paths::join(paths::parent(KVBENCH_SOURCE_DIR), "shared");
  if (paths::is_directory(paths::join(beside, "data"))) return beside;
  return std::nullopt;
}

std::string shared_path(const std::string& rel) { return paths::join(*shared_dir(), rel); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

void expect_one_error(const CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace kvbench::test
