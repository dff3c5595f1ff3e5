#pragma once
// One process at a time per run folder: `kvbench run` (and --resume, --shard, a --devices parent) and `merge` hold
// an exclusive lock on <folder>/kvbench.lock for as long as they work there (flock(2): the kernel drops it when the
// process ends, however it ends, so a killed run never leaves a folder locked). A second process is refused with
// the holder's pid, host and command.

#include <sys/types.h>

#include <string>

namespace kvbench {

/// The lock file's name inside a run folder.
inline constexpr const char* kFolderLockName = "kvbench.lock";

class FolderLock {
 public:
  /// Creates `dir` if needed and locks it for this process; throws kvbench::Error naming the holder when another
  /// process has it. `command` is written into the lock file for that message.
  FolderLock(const std::string& dir, const std::string& command);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  /// Throws WriteError when the folder or its lock file was removed or replaced since it was locked (the folder
  /// deleted under a running job): what the run writes from then on would be lost.
  void check_still_held() const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, path_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace kvbench
