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

/// Strips libtorch's C++ backtrace ("Exception raised from ...") from an exception message, keeping the
/// human-readable first part.
std::string short_error_message(const std::exception& e);

}  // namespace kvbench

/// KV_CHECK(cond, "message ", value, ...): throws kvbench::Error when cond is false.
#define KV_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::kvbench::fail(__VA_ARGS__); \
  } while (0)
