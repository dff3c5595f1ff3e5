#include "harness/common/zip_archive.h"

#include <unzip.h>

#include <vector>

#include "harness/common/error.h"
#include "harness/common/files.h"

namespace kvbench {

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  // Checked (and remembered as an input, which no output may replace) before minizip opens it: a FIFO or a device
  // is refused instead of read forever.
  const InputFile checked(path);
  handle_ = unzOpen64(path.c_str());
  KV_CHECK(handle_ != nullptr, "'", path, "' is not a ZIP archive (or it is damaged: its central directory cannot be read)");
  for (int status = unzGoToFirstFile(handle_); status == UNZ_OK; status = unzGoToNextFile(handle_)) {
    unz_file_info64 info{};
    std::vector<char> name(4096);
    KV_CHECK(unzGetCurrentFileInfo64(handle_, &info, name.data(), name.size(), nullptr, 0, nullptr, 0) == UNZ_OK,
             "'", path, "': cannot read an entry of its directory (a damaged archive)");
    entries_.push_back({std::string(name.data()), info.uncompressed_size});
  }
}

ZipArchive::~ZipArchive() {
  if (handle_ != nullptr) unzClose(handle_);
}

void ZipArchive::read(const std::string& name, const std::function<void(const char*, std::size_t)>& sink) const {
  KV_CHECK(unzLocateFile(handle_, name.c_str(), /*case sensitive=*/1) == UNZ_OK, "'", path_, "' has no entry '", name, "'");
  KV_CHECK(unzOpenCurrentFile(handle_) == UNZ_OK, "'", path_, "': cannot open its entry '", name, "': the archive is "
           "damaged (or the entry is encrypted, or compressed by a method minizip lacks)");
  std::vector<char> buf(1 << 20);
  int n = 0;
  try {
    while ((n = unzReadCurrentFile(handle_, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
      sink(buf.data(), static_cast<std::size_t>(n));
  } catch (...) {
    unzCloseCurrentFile(handle_);
    throw;
  }
  const int closed = unzCloseCurrentFile(handle_);
  KV_CHECK(n == 0, "'", path_, "': entry '", name, "' cannot be inflated (error ", n, "): the archive is damaged");
  KV_CHECK(closed != UNZ_CRCERROR, "'", path_, "': entry '", name, "' does not match its CRC: the archive is damaged "
           "(download it again)");
}

}  // namespace kvbench
