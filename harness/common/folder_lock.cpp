#include "harness/common/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"

namespace kvbench {
namespace {

// What the holder wrote into the lock file ("pid 123 on host h since T: kvbench run ..."), read without blocking.
std::string holder_of(int fd) {
  // The holder writes its line right after locking: give it a moment if the file is still empty.
  for (int attempt = 0; attempt < 20; ++attempt) {
    char buf[1024];
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      std::string text(buf, static_cast<std::size_t>(n));
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      return text;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "a process that has not said which";
}

}  // namespace

FolderLock::FolderLock(const std::string& dir, const std::string& command)
    : dir_(dir), path_(paths::join(dir, kFolderLockName)) {
  paths::create_directories(dir);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0644);
  if (fd_ < 0) fail("cannot lock the run folder '", dir, "': cannot open '", path_, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    fail("cannot lock the run folder '", dir, "': '", path_, "' is ", file_kind(st.st_mode), ", not a regular file");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? holder_of(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    KV_CHECK(err != EWOULDBLOCK, "'", dir, "' is in use by another kvbench process (", holder,
             "); wait for it to end, or choose another output folder");
    fail("cannot lock the run folder '", dir, "': ", std::strerror(err));
  }
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  const std::string line = "pid " + std::to_string(::getpid()) + " on " + system::host_name() + " since " +
                           system::utc_now() + ": " + command + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()))
    throw WriteError(detail::concat("cannot write '", path_, "': ", std::strerror(errno)));
}

FolderLock::~FolderLock() {
  // The file stays (removing it would race with a process that opened it and waits to lock it); the lock goes.
  if (fd_ >= 0) ::close(fd_);
}

void FolderLock::check_still_held() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_)
    throw WriteError(detail::concat("the run folder '", dir_, "' was removed or replaced while kvbench was writing "
                                    "into it; stopping, since nothing written from now on would be kept"));
}

}  // namespace kvbench
