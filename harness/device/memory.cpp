#include "harness/device/memory.h"

#if KVBENCH_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace kvbench {

void reset_peak_device_memory(at::Device device) {
#if KVBENCH_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
#else
  (void)device;
#endif
}

std::optional<std::int64_t> peak_device_memory(at::Device device) {
#if KVBENCH_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
    return stats.allocated_bytes[0].peak;  // index 0: the aggregate over small and large pools
  }
#else
  (void)device;
#endif
  return std::nullopt;
}

}  // namespace kvbench
