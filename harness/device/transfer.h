#pragma once
// Small device helpers shared by the policies and the engine (which builds on them).

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace kvbench {

/// int64 `values` on `device`. On CUDA the copy goes through pinned memory without waiting for the work
/// queued on the device (a plain copy from pageable memory synchronizes the stream).
at::Tensor device_longs(const std::vector<std::int64_t>& values, at::Device device);

/// Blocks until all queued work on `device` is done (no-op on CPU).
void synchronize(at::Device device);

}  // namespace kvbench
