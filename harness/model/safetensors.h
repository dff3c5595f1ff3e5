#pragma once
// Our own safetensors reader and writer (format: https://huggingface.co/docs/safetensors).
//
// Layout: 8-byte little-endian header length N, N bytes of JSON header, then the data region. The header maps
// tensor names to {dtype, shape, data_offsets: [begin, end)} relative to the data region, plus an optional
// "__metadata__" string map. The reader memory-maps the file and validates everything before any tensor is
// touched: the header length bound, well-formed JSON, known dtypes, every byte range inside the file and equal
// to numel x dtype size, and no two tensors overlapping. Any violation is a kvbench::Error naming the file
// (and the tensor, where there is one).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/common/mapped_file.h"

namespace kvbench {

/// Element types a safetensors file may declare (names as the format spells them).
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2 };

/// Bytes per element of `dtype`.
std::size_t dtype_size(DType dtype);
/// The format's name for `dtype`, e.g. "BF16".
const char* dtype_name(DType dtype);
/// Parses a format dtype name; nullopt when unknown.
std::optional<DType> parse_dtype(const std::string& name);

/// One tensor entry of a safetensors header. Offsets are relative to the start of the data region.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::uint64_t numel() const;
  std::uint64_t nbytes() const { return end - begin; }
};

/// The largest header we accept (the reference implementation's bound): 100 MB.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
 public:
  /// Maps and validates `path`; throws kvbench::Error describing the first problem found.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  /// All tensors, sorted by name.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(const std::string& name) const;
  /// The tensor called `name`; throws kvbench::Error naming the file when it is absent.
  const TensorInfo& at(const std::string& name) const;
  /// Pointer to the first byte of `tensor`'s data inside the mapping.
  const std::uint8_t* data(const TensorInfo& tensor) const { return data_start_ + tensor.begin; }
  /// The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile file_;
  const std::uint8_t* data_start_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// A tensor to write: the bytes must be numel(shape) x dtype_size(dtype) long, little-endian.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  std::size_t nbytes = 0;
};

/// Writes a safetensors file (header padded to 8 bytes, tensors in name order). The file appears atomically:
/// it is written beside `path` and renamed into place.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace kvbench
