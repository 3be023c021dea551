// Per-step device time of the CUDA executable (`resr bench --layers`): an event recorded on the stream before
// the first step and after each one, read back after the run and summed over runs. Each step is described once
// (layer name, what ran, shape, multiply-adds). Timed runs launch their steps one by one (no CUDA graph).
// Owns its events. Not thread-safe.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <functional>
#include <vector>

#include "backends/executable.h"
#include "core/status.h"
#include "core/tensor.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

class StepTimer {
 public:
  StepTimer() = default;
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;
  ~StepTimer();

  // Before the first of `steps` steps: makes the events still missing and records the first.
  [[nodiscard]] Status start(cudaStream_t stream, std::size_t steps);
  // After step `step` (0-based) was launched.
  [[nodiscard]] Status mark(cudaStream_t stream, std::size_t step);
  // After the last step: waits for the stream and adds each step's time. conv_kernels[s]: what ran conv step s
  // ("conv + epilogue (one cuDNN graph)", say); shapes: every value's shape (by value index).
  [[nodiscard]] Status collect(cudaStream_t stream, const std::vector<passes::Step>& steps,
                               const std::vector<const char*>& conv_kernels, const std::vector<Shape>& shapes);

  void clear() { times_.clear(); }
  const std::vector<StepTime>& times() const { return times_; }

 private:
  std::vector<cudaEvent_t> events_;  // [0]: before the first step; [s + 1]: after step s
  std::vector<StepTime> times_;
};

// The device time of what `launch` enqueues on `stream`, in ms: the best of `runs` after one warm-up, each
// between two events of `events` (two, made by the caller). NaN when a launch or an event fails (the CUDA error is
// cleared).
double best_device_ms(cudaStream_t stream, const std::array<cudaEvent_t, 2>& events,
                      const std::function<Status()>& launch, int runs = 3);

}  // namespace resr::cuda
