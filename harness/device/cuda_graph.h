#pragma once
// CUDA graphs and device step timing for the decode loop, behind a small interface that also builds (and
// reports "not available") against a CPU-only libtorch.

#include <ATen/ATen.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace kvbench {

/// One captured CUDA graph: a fixed sequence of kernels over fixed buffers, replayed with one launch.
/// Whatever changes between replays (the step's position, the cache slot) must live in device memory.
class CapturedGraph {
 public:
  CapturedGraph();
  ~CapturedGraph();
  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;

  /// Whether this build can capture graphs (libtorch with CUDA).
  static bool available();
  /// Runs `body` once eagerly on a side stream (so cuBLAS handles and workspaces exist before capture),
  /// then captures a second run of it. Both runs execute their side effects on the device once each; the
  /// caller resets whatever state they advance. Tensors `body` allocates come from the graph's private pool
  /// and stay valid while the graph lives.
  void capture(const std::function<void()>& body);
  /// Launches the graph on the current stream.
  void replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Times decode steps without host synchronization: on CUDA an event per mark, read after the device is
/// synchronized; on the CPU the host clock.
class StepTimer {
 public:
  explicit StepTimer(at::Device device);
  ~StepTimer();
  /// Marks the end of a step (the first call marks the start of the first step).
  void mark();
  /// Seconds between consecutive marks. On CUDA, only after the device has finished the marked work.
  std::vector<double> intervals() const;
  /// Sum of the intervals from mark 2i to mark 2i+1 (start/stop pairs), with the same proviso.
  double paired_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvbench
