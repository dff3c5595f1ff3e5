#pragma once
// Helpers shared by the test programs: temporary directories, running the kvbench binary, locating
// ../shared (tests that need it skip with a reason when it is absent).

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace kvbench::test {

/// A fresh directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Result of running a shell command.
struct CommandResult {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs the kvbench binary built next to the tests with `args` (shell-quoted by the caller where needed).
/// With `workdir`, the command runs in that directory.
CommandResult run_kvbench(const std::string& args, const std::string& workdir = "");

/// The shared data folder (../shared beside the checkout, or $KVBENCH_SHARED), if present.
std::optional<std::string> shared_dir();

/// `rel` inside the shared data folder (call only when shared_dir() has a value).
std::string shared_path(const std::string& rel);

/// The message of the kvbench::Error `f` throws, or "<no error>".
std::string error_of(const std::function<void()>& f);

/// Skips the current test, with the reason, when ../shared is absent.
#define KVBENCH_REQUIRE_SHARED() \
  if (!::kvbench::test::shared_dir()) GTEST_SKIP() << "../shared (real data for this test) is not present"

/// A command that failed cleanly: exit code 1, stderr is one `error: ...` message containing `needle` (nothing
/// logged before it), nothing on stdout.
void expect_one_error(const CommandResult& r, const std::string& needle);

/// Reads a whole file; empty string if it cannot be read.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace kvbench::test
