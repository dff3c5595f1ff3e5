#include "harness/common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <map>
#include <vector>

#include "harness/common/error.h"
#include "harness/common/paths.h"
#include "harness/common/system.h"

namespace kvbench {
namespace {

// Every input this process opened: its change time by device and inode (the time tells a later file that reuses
// a deleted input's inode from the input itself). No output may be written over one of them.
std::mutex g_inputs_mutex;
std::map<std::pair<dev_t, ino_t>, std::int64_t> g_inputs;
int g_tracking = 0;  // live CommandInputs scopes

std::int64_t change_time(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

void note_input(const struct stat& st) {
  const std::lock_guard<std::mutex> lock(g_inputs_mutex);
  if (g_tracking > 0) g_inputs[{st.st_dev, st.st_ino}] = change_time(st);
}

bool is_input(const struct stat& st) {
  const std::lock_guard<std::mutex> lock(g_inputs_mutex);
  const auto it = g_inputs.find({st.st_dev, st.st_ino});
  return it != g_inputs.end() && it->second == change_time(st);
}

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  if (n >= (std::uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(n) / (1 << 30));
  else if (n >= (std::uint64_t{1} << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  return buf;
}

constexpr const char* kTmpMarker = ".tmp.";

// Whether `name` is the temporary of a writer on this host that no longer runs: "<target>.tmp.<pid>[.<host>]"
// (older kvbench wrote no host).
bool stale_temporary(const std::string& name) {
  const auto mark = name.rfind(kTmpMarker);
  if (mark == std::string::npos || mark == 0) return false;
  const std::string rest = name.substr(mark + std::strlen(kTmpMarker));
  const auto dot = rest.find('.');
  const std::string pid_text = rest.substr(0, dot), host = dot == std::string::npos ? "" : rest.substr(dot + 1);
  if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos) return false;
  if (!host.empty() && host != system::host_name()) return false;  // another machine's writer: it may still run
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
  if (pid == ::getpid()) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes stale temporaries in `dir` (only those of `target` when it is not empty), `depth` levels down.
void sweep(const std::string& dir, const std::string& target, int depth) {
  DIR* d = ::opendir(dir.empty() ? "." : dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> subdirs;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = paths::join(dir, name);
    if (depth > 0 && e->d_type == DT_DIR) subdirs.push_back(path);
    if ((target.empty() || name.rfind(target + kTmpMarker, 0) == 0) && stale_temporary(name)) ::unlink(path.c_str());
  }
  ::closedir(d);
  for (const auto& sub : subdirs) sweep(sub, target, depth - 1);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

CommandInputs::CommandInputs() {
  const std::lock_guard<std::mutex> lock(g_inputs_mutex);
  ++g_tracking;
}

CommandInputs::~CommandInputs() {
  const std::lock_guard<std::mutex> lock(g_inputs_mutex);
  if (--g_tracking == 0) g_inputs.clear();
}

std::string file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

InputFile::InputFile(const std::string& path, Role role) : path_(path) {
  KV_CHECK(!path.empty(), "an empty path where a file is expected");
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like any other special file.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0) {
    const int err = errno;
    KV_CHECK(err != ENOENT, "'", path, "' does not exist");
    fail("cannot read '", path, "': ", std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string kind = file_kind(st.st_mode);
    ::close(fd_);
    fd_ = -1;
    fail("'", path, "' is ", kind, ", not a regular file");
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (role == kInput) note_input(st);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string InputFile::read_all(std::uint64_t max_bytes) {
  KV_CHECK(size_ <= max_bytes, "'", path_, "' is ", human_bytes(size_), ", more than the ", human_bytes(max_bytes),
           " kvbench reads of such a file");
  std::string out(static_cast<std::size_t>(size_), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    KV_CHECK(n >= 0, "cannot read '", path_, "': ", std::strerror(errno));
    if (n == 0) break;  // the file shrank meanwhile
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

LineReader::LineReader(const std::string& path, InputFile::Role role, std::size_t max_line)
    : file_(path, role), max_line_(max_line) {}

bool LineReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {  // drop what was returned already
    buffer_.erase(0, pos_);
    consumed_ += pos_;
    pos_ = 0;
  }
  constexpr std::size_t kChunk = 1 << 20;
  const std::size_t old = buffer_.size();
  buffer_.resize(old + kChunk);
  ssize_t n;
  do {
    n = ::read(file_.fd(), buffer_.data() + old, kChunk);
  } while (n < 0 && errno == EINTR);
  KV_CHECK(n >= 0, "cannot read '", file_.path(), "': ", std::strerror(errno));
  buffer_.resize(old + static_cast<std::size_t>(n));
  eof_ = n == 0;
  return n > 0;
}

bool LineReader::next(std::string& line) {
  while (true) {
    const std::size_t nl = buffer_.find('\n', pos_);
    const std::size_t pending = (nl == std::string::npos ? buffer_.size() : nl) - pos_;
    KV_CHECK(pending <= max_line_, file_.path(), ":", line_ + 1, ": a line longer than ", human_bytes(max_line_),
             " (the longest line kvbench reads)");
    if (nl != std::string::npos || (eof_ && pending > 0)) {
      line.assign(buffer_, pos_, pending);
      start_ = consumed_ + pos_;
      complete_ = nl != std::string::npos;
      pos_ = complete_ ? nl + 1 : buffer_.size();
      ++line_;
      return true;
    }
    if (eof_) return false;
    fill();
  }
}

void check_directory(const std::string& path, const std::string& what) {
  KV_CHECK(!path.empty(), what, " is empty: give a folder");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    KV_CHECK(err != ENOENT, what, " '", path, "' does not exist");
    fail("cannot read ", what, " '", path, "': ", std::strerror(err));
  }
  KV_CHECK(S_ISDIR(st.st_mode), what, " '", path, "' is ", file_kind(st.st_mode), ", not a folder");
  KV_CHECK(::access(path.c_str(), R_OK | X_OK) == 0, "cannot read ", what, " '", path, "': ", std::strerror(errno));
}

std::string check_output_file(const std::string& path) {
  if (path.empty()) throw WriteError("an empty path where an output file is expected");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return path;
    throw WriteError(detail::concat("cannot write '", path, "': ", std::strerror(errno)));
  }
  std::string target = path;
  if (S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr)
      throw WriteError(detail::concat("cannot write '", path, "': a symbolic link to nothing (", std::strerror(errno), ")"));
    target = real;
    std::free(real);
    if (::stat(target.c_str(), &st) != 0) return target;
  }
  if (!S_ISREG(st.st_mode))
    throw WriteError(detail::concat("cannot write '", path, "': it is ", file_kind(st.st_mode),
                                    ", not a regular file (kvbench writes its outputs as regular files only)"));
  if (is_input(st))
    throw WriteError(detail::concat("cannot write '", path, "': it is one of this command's inputs, which kvbench "
                                    "never writes over (choose another output path)"));
  return target;
}

AtomicWriter::AtomicWriter(const std::string& path) : path_(check_output_file(path)) {
  const std::string dir = paths::parent(path_);
  if (!dir.empty()) paths::create_directories(dir);
  sweep(dir, base_name(path_), 0);
  tmp_ = path_ + kTmpMarker + std::to_string(::getpid()) + "." + system::host_name();
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    const int err = errno;
    tmp_.clear();
    throw WriteError(detail::concat("cannot write '", path, "': cannot create a file in '", dir.empty() ? "." : dir,
                                    "': ", std::strerror(err)));
  }
}

AtomicWriter::~AtomicWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicWriter::failed(const std::string& why) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  throw WriteError(detail::concat("cannot write '", path_, "': ", why, " (the previous version, if any, is intact)"));
}

void AtomicWriter::write(const void* data, std::size_t size) {
  KV_CHECK(fd_ >= 0, "internal error: writing '", path_, "' after it was committed");
  const char* p = static_cast<const char*>(data);
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd_, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) failed(n < 0 ? std::strerror(errno) : "nothing written");
    done += static_cast<std::size_t>(n);
  }
}

void AtomicWriter::commit() {
  if (::fsync(fd_) != 0 && errno != EINVAL) failed(std::strerror(errno));
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) failed(std::strerror(errno));
  check_output_file(path_);  // again, just before the rename: the target may have changed meanwhile
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) failed(std::strerror(errno));
  tmp_.clear();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  AtomicWriter out(path);
  out.write(content);
  out.commit();
}

void remove_stale_temporaries(const std::string& dir, int depth) { sweep(dir, "", depth); }

}  // namespace kvbench
