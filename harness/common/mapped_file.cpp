#include "harness/common/mapped_file.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "harness/common/error.h"
#include "harness/common/files.h"

namespace kvbench {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const InputFile file(path);  // a regular file (a FIFO is refused, not waited on), counted as an input
  size_ = static_cast<std::size_t>(file.size());
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file.fd(), 0);
    KV_CHECK(p != MAP_FAILED, "cannot memory-map '", path, "': ", std::strerror(errno));
    data_ = static_cast<const std::uint8_t*>(p);
  }
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace kvbench
