#pragma once
// Small conversions between our names and libtorch's.

#include <ATen/ATen.h>

#include <string>

#include "harness/model/safetensors.h"

namespace kvbench {

/// The libtorch scalar type of a safetensors dtype; throws for dtypes libtorch 1.13 cannot hold.
at::ScalarType to_scalar_type(DType dtype);
/// Parses "f32", "bf16" or "f16" (also "float32", "bfloat16", "float16").
at::ScalarType parse_compute_dtype(const std::string& name);
/// "f32", "bf16", "f16", ...
std::string short_dtype_name(at::ScalarType type);
/// Parses "cpu", "cuda" or "cuda:N", checking that CUDA is usable when asked for.
at::Device parse_device(const std::string& name);
/// Whether this libtorch build can run on a CUDA device right now.
bool cuda_usable();
/// Copies a 1-D int64 tensor (any device) into a host vector.
std::vector<std::int64_t> to_int_vector(const at::Tensor& t);

}  // namespace kvbench
