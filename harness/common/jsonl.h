#pragma once
// Append-only JSON Lines files that survive a kill at any moment: each row is one write(2) of a complete
// line, flushed to the kernel at once and fsync'ed on sync(); a reader that finds a torn last line (the process
// died mid-write) cuts the file back to its last complete line.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvbench {

class JsonlAppender {
 public:
  /// Opens (creating it and its folder if needed) `path` for appending.
  explicit JsonlAppender(const std::string& path);
  ~JsonlAppender();
  JsonlAppender(const JsonlAppender&) = delete;
  JsonlAppender& operator=(const JsonlAppender&) = delete;
  /// Appends one row as one line.
  void append(const nlohmann::json& row);
  /// Forces what was appended to disk.
  void sync();

 private:
  std::string path_;
  int fd_ = -1;
};

/// The complete rows of `path` (none if it does not exist). A torn last line is cut off the file (and
/// reported through `repaired`); a malformed complete line is an error naming the file and line.
std::vector<nlohmann::json> read_jsonl_rows(const std::string& path, bool* repaired = nullptr);

}  // namespace kvbench
