#include "harness/common/paths.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "harness/common/error.h"
#include "harness/common/unicode.h"
#include "harness/common/system.h"

namespace kvbench::paths {

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

std::string parent(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string resolve(const std::string& path, const std::string& base) {
  const std::string full = !path.empty() && path[0] == '/' ? path : join(base, path);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= full.size()) {
    const std::size_t end = std::min(full.find('/', start), full.size());
    const std::string part = full.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (full[0] != '/') parts.push_back(part);  // "/.." is "/"
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out = full[0] == '/' ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
  return out.empty() ? "." : out;
}

std::string absolute(const std::string& path) { return resolve(path, system::current_directory()); }

std::string filename(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void create_directories(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  create_directories(parent(path));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    fail("cannot create directory '", path, "': ", std::strerror(errno));
  KV_CHECK(is_directory(path), "cannot create directory '", path, "': a file of that name exists");
}

namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }
}  // namespace

void remove_all(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    remove_file(path);
    return;
  }
  KV_CHECK(::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove '", path, "': ",
           std::strerror(errno));
}

void remove_file(const std::string& path) {
  KV_CHECK(::unlink(path.c_str()) == 0 || errno == ENOENT, "cannot remove '", path, "': ", std::strerror(errno));
}

void rename(const std::string& from, const std::string& to) {
  KV_CHECK(std::rename(from.c_str(), to.c_str()) == 0, "cannot rename '", from, "' to '", to, "': ",
           std::strerror(errno));
}

void check_component(const std::string& name, const std::string& what) {
  KV_CHECK(!name.empty() && name != "." && name != "..", what, " must be a plain name for a folder or file, got '",
           name, "'");
  for (unsigned char c : name)
    KV_CHECK(c != '/' && c >= 0x20 && c != 0x7f, what, " must be a plain name (no '/' or control characters), got '",
             name, "'");
  // Names land in JSON files (manifests, reports), which hold UTF-8 only.
  KV_CHECK(unicode::is_valid_utf8(name), what, " must be valid UTF-8, got '", unicode::sanitize_utf8(name), "'");
}

}  // namespace kvbench::paths
