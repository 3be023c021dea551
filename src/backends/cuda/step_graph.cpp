#include "backends/cuda/step_graph.h"

#include <utility>

#include "backends/cuda/cuda_status.h"

namespace resr::cuda {

StepGraph::StepGraph(StepGraph&& other) noexcept
    : exec_(std::exchange(other.exec_, nullptr)), failed_(std::exchange(other.failed_, false)) {}

StepGraph& StepGraph::operator=(StepGraph&& other) noexcept {
  if (this != &other) {
    if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
    exec_ = std::exchange(other.exec_, nullptr);
    failed_ = std::exchange(other.failed_, false);
  }
  return *this;
}

StepGraph::~StepGraph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
}

Status StepGraph::run(cudaStream_t stream, const std::function<Status()>& launch) {
  if (exec_ == nullptr && !failed_) capture(stream, launch);
  if (exec_ == nullptr) return launch();
  RESR_CUDA(cudaGraphLaunch(exec_, stream));
  return ok_status();
}

void StepGraph::capture(cudaStream_t stream, const std::function<Status()>& launch) {
  // An error of the work enqueued before (the input's conversion) stays for the run's own check: the capture
  // below clears the errors it raises, and must not clear that one with them. This run goes eagerly; the next
  // one captures.
  if (cudaPeekAtLastError() != cudaSuccess) return;
  failed_ = true;
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  const Status launched = launch();
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (launched.ok() && ended == cudaSuccess && graph != nullptr &&
      cudaGraphInstantiate(&exec_, graph, 0) == cudaSuccess)
    failed_ = false;
  else
    exec_ = nullptr;
  if (graph != nullptr) cudaGraphDestroy(graph);
  cudaGetLastError();  // a capture failure is not fatal: the steps run one by one
}

}  // namespace resr::cuda
