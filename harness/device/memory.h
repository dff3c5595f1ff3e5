#pragma once
// Peak device memory as the CUDA caching allocator counts it (bytes handed out to tensors, the number
// torch.cuda.max_memory_allocated reports). Builds against a CPU-only libtorch answer "unknown".

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace kvbench {

/// Starts a new peak window on `device` (no-op where unknown).
void reset_peak_device_memory(at::Device device);
/// Peak bytes allocated on `device` since the last reset; nullopt on the CPU or without CUDA support.
std::optional<std::int64_t> peak_device_memory(at::Device device);

}  // namespace kvbench
