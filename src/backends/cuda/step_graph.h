// A plan's steps as one CUDA graph: captured from the stream on the first run, replayed on later ones, so that
// a few hundred small launches cost one. Capture failure is not an error: the steps then run one by one for the
// rest of the plan's life. Owns the instantiated graph. Not thread-safe; one per plan (its pointers are baked in).
//
//   StepGraph g;
//   RESR_RETURN_IF_ERROR(g.run(stream, [&] { return launch_all_steps(); }));
#pragma once

#include <cuda_runtime.h>

#include <functional>

#include "core/status.h"

namespace resr::cuda {

class StepGraph {
 public:
  StepGraph() = default;
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;
  StepGraph(StepGraph&& other) noexcept;
  StepGraph& operator=(StepGraph&& other) noexcept;
  ~StepGraph();

  // Launches the steps on `stream`: replays the graph, capturing `launch` into it first if there is none yet;
  // calls `launch` directly when capture failed before. Errors: those of `launch` when it runs directly, and of
  // the replay.
  [[nodiscard]] Status run(cudaStream_t stream, const std::function<Status()>& launch);

  bool failed() const { return failed_; }
  // Whether the steps are captured: run() replays them.
  bool captured() const { return exec_ != nullptr; }

 private:
  void capture(cudaStream_t stream, const std::function<Status()>& launch);

  cudaGraphExec_t exec_ = nullptr;
  bool failed_ = false;
};

}  // namespace resr::cuda
