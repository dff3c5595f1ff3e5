#include "harness/device/memory.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "harness/common/error.h"

#if KVBENCH_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace kvbench {

void reset_peak_device_memory(at::Device device) {
#if KVBENCH_WITH_CUDA
  // Before the allocator's first allocation there is no peak to reset (and asking throws).
  if (!device.is_cuda()) return;
  try {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
  } catch (const c10::Error&) {
  }
#else
  (void)device;
#endif
}

std::optional<std::int64_t> peak_device_memory(at::Device device) {
#if KVBENCH_WITH_CUDA
  if (device.is_cuda()) {
    try {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
      return stats.allocated_bytes[0].peak;  // index 0: the aggregate over small and large pools
    } catch (const c10::Error&) {
      return std::int64_t{0};  // nothing allocated yet
    }
  }
#else
  (void)device;
#endif
  return std::nullopt;
}

namespace {
// A number of kB from /proc's "Key:   123 kB" lines.
std::optional<std::int64_t> proc_kb(const char* file, const char* key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::strlen(key))) * 1024;
  return std::nullopt;
}
}  // namespace

std::optional<std::int64_t> available_memory(at::Device device) {
#if KVBENCH_WITH_CUDA
  if (device.is_cuda()) {
    const int index = device.has_index() ? device.index() : 0;
    size_t free = 0, total = 0;
    if (cudaSetDevice(index) != cudaSuccess || cudaMemGetInfo(&free, &total) != cudaSuccess) return std::nullopt;
    // Memory the caching allocator holds but does not use is free to us too. Before the allocator's first
    // allocation it holds nothing, and asking it throws ("did you call init?"), so free is the whole answer.
    std::int64_t cached_unused = 0;
    try {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
      cached_unused = stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;
    } catch (const c10::Error&) {
    }
    return static_cast<std::int64_t>(free) + cached_unused;
  }
#endif
  if (!device.is_cpu()) return std::nullopt;
  std::optional<std::int64_t> avail = proc_kb("/proc/meminfo", "MemAvailable:");
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const std::int64_t used = proc_kb("/proc/self/status", "VmSize:").value_or(0);
    const std::int64_t left = static_cast<std::int64_t>(limit.rlim_cur) - used;
    avail = std::min(avail.value_or(left), left);
  }
  return avail;
}

void check_fits(std::int64_t bytes, at::Device device, const std::string& what) {
  const std::optional<std::int64_t> avail = available_memory(device);
  if (!avail || bytes <= *avail) return;
  auto gib = [](std::int64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
    return std::string(buf);
  };
  fail(what, " needs about ", gib(bytes), " on ", device.str(), ", which has ", gib(std::max<std::int64_t>(0, *avail)),
       " available");
}

}  // namespace kvbench
