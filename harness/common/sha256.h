#pragma once
// SHA-256 (FIPS 180-4), for the checksums of data files and run provenance (`kvbench data`, report.json).
// Incremental, so that a file is hashed while it is streamed to disk.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kvbench {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(const std::string& text) { update(text.data(), text.size()); }
  /// The digest as 64 lowercase hex digits; the object must not be updated afterwards.
  std::string hex();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  ///< bytes seen
};

/// The hex SHA-256 of a string.
std::string sha256_hex(const std::string& text);
/// The hex SHA-256 of a file's bytes; throws kvbench::Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace kvbench
