#include "backends/cuda/conv_algorithm.h"

#include <cuda_runtime.h>

namespace resr::cuda {

Result<AlgoChoice> choose_conv_algorithm(cudnnHandle_t handle, const ConvProblem& p,
                                         const DeviceBuffer& search_workspace) {
  const ConvWeights& c = *p.weights;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  bool measured = false;
  if (search_workspace.get() != nullptr) {
    measured = cudnnFindConvolutionForwardAlgorithmEx(handle, p.x, p.x_data, c.filter.get(), c.w.get(), c.desc.get(),
                                                      p.y, p.y_data, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf,
                                                      search_workspace.get(),
                                                      search_workspace.bytes()) == CUDNN_STATUS_SUCCESS;
    cudaGetLastError();  // a failed search is not fatal: the heuristic choice instead
  }
  if (!measured)
    RESR_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.x, c.filter.get(), c.desc.get(), p.y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
  for (int i = 0; i < found; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (p.keep_fma && perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    AlgoChoice a{perf[i].algo, perf[i].mathType, perf[i].memory};
    if (!measured) {
      std::size_t bytes = 0;  // the heuristic's figure is an estimate: ask for the real one
      RESR_CUDNN(
          cudnnGetConvolutionForwardWorkspaceSize(handle, p.x, c.filter.get(), c.desc.get(), p.y, a.algo, &bytes));
      a.workspace = bytes;
    }
    return a;
  }
  return Status::error("cudnn: no forward algorithm for " + p.name);
}

}  // namespace resr::cuda
