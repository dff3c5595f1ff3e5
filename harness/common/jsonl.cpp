#include "harness/common/jsonl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"

namespace kvbench {

JsonlAppender::JsonlAppender(const std::string& path) : path_(check_output_file(path)) {
  paths::create_directories(paths::parent(path_));
  // O_NONBLOCK: a FIFO put there meanwhile fails to open instead of blocking; fstat refuses any special file.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0644);
  if (fd_ < 0) throw WriteError(detail::concat("cannot open '", path_, "' for appending: ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw WriteError(detail::concat("cannot write '", path_, "': it is ", file_kind(st.st_mode), ", not a regular file"));
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
}

JsonlAppender::~JsonlAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlAppender::append(const nlohmann::json& row) {
  const std::string line = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw WriteError(detail::concat("cannot write to '", path_, "': ", std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
}

void JsonlAppender::sync() {
  // A full disk can surface only here (delayed allocation), so fsync's result matters.
  if (::fsync(fd_) != 0 && errno != EINVAL)
    throw WriteError(detail::concat("cannot write to '", path_, "': ", std::strerror(errno)));
}

void JsonlAppender::check_still_there() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_)
    throw WriteError(detail::concat("'", path_, "' was removed or replaced while kvbench was writing it (was its "
                                    "folder deleted?); stopping, since nothing written from now on would be kept"));
}

std::vector<nlohmann::json> read_jsonl_rows(const std::string& path, bool* repaired) {
  if (repaired != nullptr) *repaired = false;
  std::vector<nlohmann::json> rows;
  if (!paths::exists(path)) return rows;
  LineReader in(path, InputFile::kOwnState);
  for (std::string line; in.next(line);) {
    if (!in.last_line_complete()) {
      // A torn last line: the writer died mid-row. The run that owns the file cuts it back to the last complete line.
      if (repaired == nullptr) break;
      KV_CHECK(::truncate(path.c_str(), static_cast<off_t>(in.line_offset())) == 0, "cannot repair '", path, "': ",
               std::strerror(errno));
      *repaired = true;
      break;
    }
    if (line.empty()) continue;
    rows.push_back(parse_json(line, path + ":" + std::to_string(in.line_number())));
  }
  return rows;
}

}  // namespace kvbench
