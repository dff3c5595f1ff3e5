#pragma once
// Path and directory helpers on POSIX calls. We do not use the C++17 filesystem library: the libtorch inside PyTorch's
// wheels exports its own (old-ABI) copies of those symbols, and a binary linked against it can bind to them
// and crash (seen: remove_all segfaulting inside libtorch.so on the GPU machine with torch 2.11).

#include <string>

namespace kvbench::paths {

/// `a/b`, without doubling the separator.
std::string join(const std::string& a, const std::string& b);
/// Everything before the last '/', or "" when there is none.
std::string parent(const std::string& path);
/// `path` resolved against `base` when it is relative (absolute paths stay as they are), then "." and "x/.."
/// segments folded lexically: resolve("../models/m", "/repo/configs") is "/repo/models/m".
std::string resolve(const std::string& path, const std::string& base);
/// `path` resolved against the current directory.
std::string absolute(const std::string& path);
/// The last component ("data.zip" of "/a/data.zip").
std::string filename(const std::string& path);
bool exists(const std::string& path);
bool is_directory(const std::string& path);
bool is_regular_file(const std::string& path);
/// mkdir -p; throws kvbench::Error naming the path on failure.
void create_directories(const std::string& path);
/// rm -rf; missing paths are fine. Throws kvbench::Error when something cannot be removed.
void remove_all(const std::string& path);
/// Removes one file; throws kvbench::Error when it exists and cannot be removed.
void remove_file(const std::string& path);
/// rename(2); throws kvbench::Error naming both paths on failure.
void rename(const std::string& from, const std::string& to);
/// Throws kvbench::Error naming `what` unless `name` is safe as one path component: not empty, not "." or "..",
/// no '/', no control characters (so that nothing named from a config can write outside its folder), valid UTF-8.
void check_component(const std::string& name, const std::string& what);

}  // namespace kvbench::paths
