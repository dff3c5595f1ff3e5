#include "harness/device/transfer.h"

namespace kvbench {

at::Tensor device_longs(const std::vector<std::int64_t>& values, at::Device device) {
  const at::Tensor host = at::tensor(values, at::kLong);
  if (!device.is_cuda()) return host.to(device);
  return host.pin_memory().to(device, at::kLong, /*non_blocking=*/true);
}

void synchronize(at::Device device) {
  if (!device.is_cuda()) return;
  // A device-to-host copy waits for the work queued before it (and needs no CUDA headers here).
  (void)at::zeros({1}, at::TensorOptions().device(device)).item<float>();
}

}  // namespace kvbench
