#include "harness/model/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"

namespace kvbench {
namespace {

struct DTypeEntry {
  DType dtype;
  const char* name;
  std::size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},         {DType::I8, "I8", 1},           {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},         {DType::U16, "U16", 2},         {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},       {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
};

const DTypeEntry& entry(DType dtype) {
  for (const auto& e : kDTypes)
    if (e.dtype == dtype) return e;
  fail("internal error: unknown dtype enum value");
}

std::uint64_t read_u64_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Reads a non-negative integer field that must fit in int64.
std::uint64_t json_uint(const nlohmann::json& v, const std::string& file, const std::string& tensor,
                        const char* what) {
  // nlohmann parses every non-negative integer literal as unsigned; negatives and floats fail here.
  KV_CHECK(v.is_number_unsigned(), file, ": tensor '", tensor, "': ", what, " must be a non-negative integer, got ", v.dump());
  const std::uint64_t u = v.get<std::uint64_t>();
  KV_CHECK(u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), file, ": tensor '", tensor,
           "': ", what, " is too large: ", u);
  return u;
}

}  // namespace

std::size_t dtype_size(DType dtype) { return entry(dtype).size; }
const char* dtype_name(DType dtype) { return entry(dtype).name; }

std::optional<DType> parse_dtype(const std::string& name) {
  for (const auto& e : kDTypes)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

std::uint64_t TensorInfo::numel() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const std::uint64_t file_size = file_.size();
  KV_CHECK(file_size >= 8, path, ": file is truncated (", file_size,
           " bytes): a safetensors file starts with an 8-byte header length");
  const std::uint64_t header_len = read_u64_le(file_.data());
  KV_CHECK(header_len <= kMaxSafetensorsHeaderBytes, path, ": header length ", header_len,
           " exceeds the limit of ", kMaxSafetensorsHeaderBytes, " bytes (corrupt or not a safetensors file)");
  KV_CHECK(header_len <= file_size - 8, path, ": file is truncated: header length ", header_len,
           " but only ", file_size - 8, " bytes follow the length field");
  KV_CHECK(header_len >= 2 && file_.data()[8] == '{', path, ": header does not start with a JSON object");

  const char* header_begin = reinterpret_cast<const char*>(file_.data() + 8);
  const nlohmann::json header = parse_json(std::string_view(header_begin, header_len), path + ": header");
  KV_CHECK(header.is_object(), path, ": header is not a JSON object");

  data_start_ = file_.data() + 8 + header_len;
  const std::uint64_t data_size = file_size - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& value = it.value();
    if (name == "__metadata__") {
      KV_CHECK(value.is_object(), path, ": __metadata__ must be an object of strings");
      for (auto m = value.begin(); m != value.end(); ++m) {
        KV_CHECK(m.value().is_string(), path, ": __metadata__ entry '", m.key(), "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    KV_CHECK(value.is_object(), path, ": tensor '", name, "': entry is not an object");
    KV_CHECK(value.contains("dtype") && value["dtype"].is_string(), path, ": tensor '", name,
             "': missing or non-string 'dtype'");
    KV_CHECK(value.contains("shape") && value["shape"].is_array(), path, ": tensor '", name,
             "': missing or non-array 'shape'");
    KV_CHECK(value.contains("data_offsets") && value["data_offsets"].is_array() && value["data_offsets"].size() == 2,
             path, ": tensor '", name, "': 'data_offsets' must be an array [begin, end]");

    TensorInfo info;
    info.name = name;
    const std::string dtype = value["dtype"].get<std::string>();
    const auto parsed = parse_dtype(dtype);
    KV_CHECK(parsed.has_value(), path, ": tensor '", name, "': unknown dtype '", dtype, "'");
    info.dtype = *parsed;

    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& dim : value["shape"]) {
      const std::uint64_t d = json_uint(dim, path, name, "shape dimension");
      info.shape.push_back(static_cast<std::int64_t>(d));
      if (d != 0 && numel > std::numeric_limits<std::uint64_t>::max() / d) overflow = true;
      numel *= d;
    }
    info.begin = json_uint(value["data_offsets"][0], path, name, "data offset");
    info.end = json_uint(value["data_offsets"][1], path, name, "data offset");
    KV_CHECK(info.begin <= info.end, path, ": tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
             ") are reversed");
    KV_CHECK(info.end <= data_size, path, ": tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
             ") point past the end of the data region (", data_size, " bytes; file truncated or header corrupt)");
    const std::uint64_t elem = dtype_size(info.dtype);
    overflow = overflow || numel > std::numeric_limits<std::uint64_t>::max() / elem;
    KV_CHECK(!overflow, path, ": tensor '", name, "': shape ", nlohmann::json(info.shape).dump(),
             " is too large to address");
    KV_CHECK(numel * elem == info.nbytes(), path, ": tensor '", name, "': byte range holds ", info.nbytes(),
             " bytes but shape ", nlohmann::json(info.shape).dump(), " of ", dtype, " needs ", numel * elem);
    tensors_.push_back(std::move(info));
  }

  // No two tensors may share bytes (empty tensors occupy none).
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_)
    if (t.nbytes() > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    KV_CHECK(by_offset[i]->begin >= by_offset[i - 1]->end, path, ": tensors '", by_offset[i - 1]->name, "' and '",
             by_offset[i]->name, "' overlap in the data region");
  }
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return (it != tensors_.end() && it->name == name) ? &*it : nullptr;
}

const TensorInfo& SafetensorsFile::at(const std::string& name) const {
  const TensorInfo* t = find(name);
  KV_CHECK(t != nullptr, path(), ": tensor '", name, "' not found");
  return *t;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->name < b->name; });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto* t : order) {
    std::uint64_t numel = 1;
    for (auto d : t->shape) numel *= static_cast<std::uint64_t>(d);
    KV_CHECK(numel * dtype_size(t->dtype) == t->nbytes, "write_safetensors: tensor '", t->name, "' has ", t->nbytes,
             " bytes, its shape needs ", numel * dtype_size(t->dtype));
    header[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');

  AtomicWriter out(path);  // a failed write leaves any earlier file of that name intact
  std::uint8_t len[8];
  const std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
  out.write(len, 8);
  out.write(text);
  for (const auto* t : order) out.write(t->data, t->nbytes);
  out.commit();
}

}  // namespace kvbench
