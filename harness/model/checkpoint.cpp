#include "harness/model/checkpoint.h"

#include <map>

#include <nlohmann/json.hpp>

#include "harness/common/error.h"
#include "harness/common/files.h"
#include "harness/common/json_util.h"
#include "harness/common/paths.h"
#include "harness/model/tensor_util.h"

namespace kvbench {

namespace {
std::string shape_string(at::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace

Checkpoint::Checkpoint(const std::string& model_dir) : dir_(model_dir) {
  check_directory(model_dir, "model directory");
  const std::string single = paths::join(model_dir, "model.safetensors");
  const std::string index = paths::join(model_dir, "model.safetensors.index.json");

  if (paths::exists(single)) {
    description_ = single;
    files_.push_back(std::make_unique<SafetensorsFile>(single));
    for (const auto& t : files_[0]->tensors()) where_[t.name] = 0;
    return;
  }
  if (!paths::exists(index)) {
    const bool has_bin = paths::exists(paths::join(model_dir, "pytorch_model.bin")) ||
                         paths::exists(paths::join(model_dir, "pytorch_model.bin.index.json"));
    fail("'", model_dir, "' has neither model.safetensors nor model.safetensors.index.json",
         has_bin ? " (only PyTorch .bin weights: convert them to safetensors)" : "");
  }

  description_ = index;
  const nlohmann::json json = read_json_file(index);
  KV_CHECK(json.is_object() && json.contains("weight_map") && json["weight_map"].is_object(), index,
           ": missing 'weight_map' object");
  std::map<std::string, std::size_t> shard_index;  // shard file name -> index into files_
  for (auto it = json["weight_map"].begin(); it != json["weight_map"].end(); ++it) {
    KV_CHECK(it.value().is_string(), index, ": weight_map entry '", it.key(), "' is not a file name");
    const std::string shard = it.value().get<std::string>();
    KV_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != "..", index,
             ": weight_map entry '", it.key(), "' names '", shard, "', which is not a plain file name");
    auto found = shard_index.find(shard);
    if (found == shard_index.end()) {
      const std::string shard_path = paths::join(model_dir, shard);
      KV_CHECK(paths::exists(shard_path), index, ": shard '", shard, "' (holding tensor '", it.key(),
               "') is missing from '", model_dir, "'");
      files_.push_back(std::make_unique<SafetensorsFile>(shard_path));
      found = shard_index.emplace(shard, files_.size() - 1).first;
    }
    const SafetensorsFile& file = *files_[found->second];
    KV_CHECK(file.find(it.key()) != nullptr, index, ": tensor '", it.key(), "' is listed in shard '", shard,
             "', but that file has no such tensor");
    where_[it.key()] = found->second;
  }
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  KV_CHECK(it != where_.end(), description_, ": tensor '", name, "' is missing from the checkpoint");
  return files_[it->second]->at(name);
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  KV_CHECK(it != where_.end(), description_, ": tensor '", name, "' is missing from the checkpoint");
  return *files_[it->second];
}

void Checkpoint::check(const std::string& name, at::IntArrayRef expected_shape) const {
  const SafetensorsFile& file = file_of(name);
  const TensorInfo& t = file.at(name);
  KV_CHECK(at::IntArrayRef(t.shape) == expected_shape, file.path(), ": tensor '", name, "' has shape ",
           shape_string(t.shape), " but the config implies ", shape_string(expected_shape));
  KV_CHECK(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16, file.path(), ": tensor '",
           name, "' has dtype ", dtype_name(t.dtype), "; weights must be F32, F16 or BF16");
}

at::Tensor Checkpoint::load(const std::string& name, at::IntArrayRef expected_shape, at::ScalarType dtype,
                            at::Device device) const {
  check(name, expected_shape);
  const SafetensorsFile& file = file_of(name);
  const TensorInfo& t = file.at(name);
  // The mapping is read-only and outlives this call only as long as the Checkpoint: always copy out of it.
  const at::Tensor view =
      at::from_blob(const_cast<std::uint8_t*>(file.data(t)), t.shape, at::TensorOptions().dtype(to_scalar_type(t.dtype)));
  if (device.is_cpu()) return view.to(dtype, /*non_blocking=*/false, /*copy=*/true);
  return view.to(device, /*non_blocking=*/false, /*copy=*/true).to(dtype);
}

std::uint64_t Checkpoint::total_elements() const {
  std::uint64_t n = 0;
  for (const auto& [name, idx] : where_) n += files_[idx]->at(name).numel();
  return n;
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  for (const auto& [name, idx] : where_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace kvbench
