#pragma once
// A HuggingFace checkpoint directory's tensors: `model.safetensors`, or shards listed by
// `model.safetensors.index.json`. All files are opened and validated up front, so a bad shard is reported
// before any weight is loaded.

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "harness/model/safetensors.h"

namespace kvbench {

class Checkpoint {
 public:
  /// Opens the safetensors file(s) of `model_dir`; throws kvbench::Error naming the missing or bad file.
  explicit Checkpoint(const std::string& model_dir);

  const std::string& directory() const { return dir_; }
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  /// Header entry of tensor `name`; throws naming the tensor and the file(s) searched when absent.
  const TensorInfo& info(const std::string& name) const;
  /// The file that holds tensor `name`.
  const SafetensorsFile& file_of(const std::string& name) const;
  /// Checks that tensor `name` exists with `expected_shape` and a float dtype (F32/F16/BF16), reading no data.
  void check(const std::string& name, at::IntArrayRef expected_shape) const;
  /// Loads tensor `name`, checking its shape against `expected_shape`, converted to `dtype` on `device`.
  at::Tensor load(const std::string& name, at::IntArrayRef expected_shape, at::ScalarType dtype,
                  at::Device device) const;
  /// Sum of element counts over all tensors.
  std::uint64_t total_elements() const;
  std::vector<std::string> tensor_names() const;

 private:
  std::string dir_;
  std::string description_;  // "model.safetensors" or "model.safetensors.index.json", for errors
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, std::size_t> where_;  // tensor name -> index into files_
};

}  // namespace kvbench
