#include "harness/device/cuda_graph.h"

#include "harness/common/error.h"

#ifndef KVBENCH_WITH_CUDA_KERNELS
#define KVBENCH_WITH_CUDA_KERNELS 0
#endif
#if KVBENCH_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace kvbench {

#if KVBENCH_WITH_CUDA_KERNELS
struct CapturedGraph::Impl {
  at::cuda::CUDAGraph graph;
};
#else
struct CapturedGraph::Impl {};
#endif

CapturedGraph::CapturedGraph() : impl_(std::make_unique<Impl>()) {}
CapturedGraph::~CapturedGraph() = default;

bool CapturedGraph::available() { return KVBENCH_WITH_CUDA_KERNELS != 0; }

void CapturedGraph::capture(const std::function<void()>& body) {
#if KVBENCH_WITH_CUDA_KERNELS
  // Graphs are captured on a side stream, which first waits for the work queued on the current one.
  const c10::cuda::CUDAStream main = c10::cuda::getCurrentCUDAStream();
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAEvent ready;
  ready.record(main);
  ready.block(side);
  {
    const c10::cuda::CUDAStreamGuard guard(side);
    body();
    impl_->graph.capture_begin();
    body();
    impl_->graph.capture_end();
  }
  at::cuda::CUDAEvent done;
  done.record(side);
  done.block(main);
#else
  (void)body;
  fail("internal error: CUDA graphs need a libtorch with CUDA");
#endif
}

void CapturedGraph::replay() {
#if KVBENCH_WITH_CUDA_KERNELS
  impl_->graph.replay();
#endif
}

#if KVBENCH_WITH_CUDA_KERNELS
struct StepTimer::Impl {
  bool cuda = false;
  std::vector<std::unique_ptr<at::cuda::CUDAEvent>> events;
  std::vector<std::chrono::steady_clock::time_point> clocks;
};
#else
struct StepTimer::Impl {
  bool cuda = false;
  std::vector<std::chrono::steady_clock::time_point> clocks;
};
#endif

StepTimer::StepTimer(at::Device device) : impl_(std::make_unique<Impl>()) { impl_->cuda = device.is_cuda(); }
StepTimer::~StepTimer() = default;

void StepTimer::mark() {
#if KVBENCH_WITH_CUDA_KERNELS
  if (impl_->cuda) {
    impl_->events.push_back(std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault));
    impl_->events.back()->record(c10::cuda::getCurrentCUDAStream());
    return;
  }
#endif
  impl_->clocks.push_back(std::chrono::steady_clock::now());
}

std::vector<double> StepTimer::intervals() const {
  std::vector<double> out;
#if KVBENCH_WITH_CUDA_KERNELS
  if (impl_->cuda) {
    for (std::size_t i = 1; i < impl_->events.size(); ++i)
      out.push_back(impl_->events[i - 1]->elapsed_time(*impl_->events[i]) / 1e3);
    return out;
  }
#endif
  for (std::size_t i = 1; i < impl_->clocks.size(); ++i)
    out.push_back(std::chrono::duration<double>(impl_->clocks[i] - impl_->clocks[i - 1]).count());
  return out;
}

double StepTimer::paired_seconds() const {
  const std::vector<double> all = intervals();
  double sum = 0.0;
  for (std::size_t i = 0; i < all.size(); i += 2) sum += all[i];
  return sum;
}

}  // namespace kvbench
