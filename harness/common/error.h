#pragma once
// Errors with context, in the spirit of ATen's TORCH_CHECK: every failure the user can cause (bad files,
// bad flags, unsupported models) becomes one kvbench::Error whose message names what was wrong and where.
// The CLI prints the message and exits non-zero; nothing the user feeds us may crash the process.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kvbench {

/// The one exception type for user-facing failures. Its message is complete and printable as is.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file could not be written (disk full, quota, file-size limit, I/O error). Unlike a sample's failure it
/// ends a run: nothing later could be saved either.
class WriteError : public Error {
 public:
  using Error::Error;
};

/// The run stopped on SIGINT or SIGTERM after saving what it had; the process exits with 128 + signal.
class Interrupted : public Error {
 public:
  Interrupted(const std::string& message, int signal) : Error(message), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}
}  // namespace detail

/// Throws kvbench::Error with the streamed arguments as its message.
template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(detail::concat(std::forward<Args>(args)...));
}

/// An exception's message as a user should see it: libtorch's C++ backtrace ("Exception raised from ...",
/// "frame #N") and source locations cut off, bytes that are not printable UTF-8 escaped as \xNN (so a
/// binary file's contents never reach a terminal or an errors/ file), and at most a few hundred characters
/// per line. The full text stays available at --log-level debug.
std::string short_error_message(const std::exception& e);

/// A JSON parser's complaint without the raw input it echoes ("last read: '...'"): position and reason only.
std::string json_error_text(const std::exception& e);

}  // namespace kvbench

/// KV_CHECK(cond, "message ", value, ...): throws kvbench::Error when cond is false.
#define KV_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::kvbench::fail(__VA_ARGS__); \
  } while (0)
