#include "harness/common/jsonl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness/common/error.h"
#include "harness/common/paths.h"

namespace kvbench {

JsonlAppender::JsonlAppender(const std::string& path) : path_(path) {
  paths::create_directories(paths::parent(path));
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  KV_CHECK(fd_ >= 0, "cannot open '", path, "' for appending: ", std::strerror(errno));
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

std::vector<nlohmann::json> read_jsonl_rows(const std::string& path, bool* repaired) {
  if (repaired != nullptr) *repaired = false;
  std::vector<nlohmann::json> rows;
  if (!paths::exists(path)) return rows;
  std::ifstream in(path, std::ios::binary);
  KV_CHECK(in.good(), "cannot read '", path, "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::size_t start = 0, line_no = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      // A torn last line: the writer died mid-row. Cut the file back to the last complete line.
      KV_CHECK(::truncate(path.c_str(), static_cast<off_t>(start)) == 0, "cannot repair '", path, "': ",
               std::strerror(errno));
      if (repaired != nullptr) *repaired = true;
      break;
    }
    ++line_no;
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    KV_CHECK(!row.is_discarded(), path, ":", line_no, ": not valid JSON");
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace kvbench
