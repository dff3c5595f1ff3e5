#pragma once
// Append-only JSON Lines files that survive a kill at any moment: each row is one write(2) of a complete
// line, flushed to the kernel at once and fsync'ed on sync(); a reader that finds a torn last line (the process
// died mid-write) leaves it out, and the run that owns the file cuts it back to its last complete line.

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

class JsonlAppender {
 public:
  /// Opens (creating it and its folder if needed) `path` for appending: a regular file or a missing path, and
  /// none of the command's inputs (files.h).
  explicit JsonlAppender(const std::string& path);
  ~JsonlAppender();
  JsonlAppender(const JsonlAppender&) = delete;
  JsonlAppender& operator=(const JsonlAppender&) = delete;
  /// Appends one row as one line.
  void append(const nlohmann::json& row);
  /// Forces what was appended to disk.
  void sync();
  /// Throws WriteError when the file was removed or replaced since it was opened (its folder deleted under a
  /// running job, say): rows written after that would be lost without a word.
  void check_still_there() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

/// The complete rows of `path` (none if it does not exist). A torn last line is left out; with `repaired` (for
/// the run that owns the file) it is also cut off the file and reported there. A malformed complete line is an
/// error naming the file and line.
std::vector<nlohmann::json> read_jsonl_rows(const std::string& path, bool* repaired = nullptr);

}  // namespace kvbench
