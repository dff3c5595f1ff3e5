#pragma once
// Peak device memory as the CUDA caching allocator counts it (bytes handed out to tensors, the number
// torch.cuda.max_memory_allocated reports). Builds against a CPU-only libtorch answer "unknown".

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace kvbench {

/// Starts a new peak window on `device` (no-op where unknown).
void reset_peak_device_memory(at::Device device);
/// Peak bytes allocated on `device` since the last reset; nullopt on the CPU or without CUDA support.
std::optional<std::int64_t> peak_device_memory(at::Device device);

/// Bytes that `device` can still hand out: on the CPU the kernel's MemAvailable (less under a `ulimit -v`
/// address-space limit), on CUDA the driver's free memory plus what the caching allocator holds unused;
/// nullopt where unknown.
std::optional<std::int64_t> available_memory(at::Device device);

/// Throws kvbench::Error naming `what` when `bytes` exceed available_memory(device), with both numbers.
void check_fits(std::int64_t bytes, at::Device device, const std::string& what);

}  // namespace kvbench
