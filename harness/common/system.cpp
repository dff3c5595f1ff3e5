#include "harness/common/system.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "harness/common/error.h"

namespace kvbench::system {

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  KV_CHECK(n > 0, "cannot find the running executable (/proc/self/exe): ", std::strerror(errno));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string current_directory() {
  char buf[4096];
  KV_CHECK(::getcwd(buf, sizeof buf) != nullptr, "cannot read the current directory: ", std::strerror(errno));
  return buf;
}

const std::string& host_name() {
  static const std::string name = [] {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    return std::string(host);
  }();
  return name;
}

std::string env_choice(const char* name, std::initializer_list<const char*> choices) {
  const char* v = std::getenv(name);
  const std::string value = v != nullptr && *v != '\0' ? v : *choices.begin();
  std::string listed;
  std::size_t i = 0;
  for (const char* c : choices) {
    if (value == c) return value;
    listed += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(c);
    ++i;
  }
  fail(name, " must be ", listed, ", got '", value, "'");
}

}  // namespace kvbench::system
