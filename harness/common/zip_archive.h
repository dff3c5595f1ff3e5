#pragma once
// Reading ZIP archives (through minizip, linked statically): the list of entries and each entry's bytes,
// streamed, with the archive's CRC checked at the end of every entry. Used to unpack downloaded data sets
// (`kvbench data`); kvbench writes no archives.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kvbench {

class ZipArchive {
 public:
  struct Entry {
    std::string name;       ///< path inside the archive, '/'-separated ("data/qasper.jsonl")
    std::uint64_t size = 0; ///< uncompressed bytes, as the archive's directory says
  };

  /// Opens `path`; throws kvbench::Error naming it when it is missing or not a ZIP archive.
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  /// Every entry (folders included, their names end in '/'), in the archive's order.
  const std::vector<Entry>& entries() const { return entries_; }
  /// Streams entry `name` to `sink` in chunks; throws naming the archive and the entry when it is absent, cannot
  /// be inflated, or its bytes do not match the CRC the archive records (a damaged download).
  void read(const std::string& name, const std::function<void(const char* data, std::size_t size)>& sink) const;

 private:
  std::string path_;
  void* handle_ = nullptr;  ///< minizip's unzFile
  std::vector<Entry> entries_;
};

}  // namespace kvbench
