#pragma once
// A read-only memory map of a whole file. Checkpoints can be tens of GB: mapping lets the loader touch one
// tensor at a time without reading the file into memory first.

#include <cstddef>
#include <cstdint>
#include <string>

namespace kvbench {

class MappedFile {
 public:
  /// Maps `path` read-only; throws kvbench::Error naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release() noexcept;
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace kvbench
