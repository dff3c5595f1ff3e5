#include "harness/common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "harness/common/error.h"
#include "harness/common/paths.h"

namespace kvbench {

void write_file_atomic(const std::string& path, const std::string& content) {
  paths::create_directories(paths::parent(path));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw WriteError(detail::concat("cannot create '", tmp, "': ", std::strerror(errno)));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw WriteError(detail::concat("cannot write '", path, "': ", std::strerror(err), " (the previous version, if any, is intact)"));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw WriteError(detail::concat("cannot write '", path, "': ", std::strerror(err), " (the previous version, if any, is intact)"));
  }
}

}  // namespace kvbench
