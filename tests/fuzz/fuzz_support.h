#pragma once
// Shared by the libFuzzer targets: the input as a file (for parsers that read paths) and the rule that a parser
// may reject input only with kvbench::Error. Any other exception escapes and libFuzzer reports it as a crash.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace kvbench::fuzz {

/// Writes the input to a per-process file in /dev/shm (or /tmp) and returns its path; rewritten per input.
inline std::string input_file(const std::uint8_t* data, std::size_t size, const char* name) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/kvbench-fuzz-" + std::to_string(getpid()) + "-" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

inline std::string as_string(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace kvbench::fuzz
