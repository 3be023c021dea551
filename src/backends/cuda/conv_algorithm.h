// A conv's algorithm in cuDNN's legacy API: measured (cudnnFind, as PyTorch's cudnn.benchmark) when a search
// workspace is given, else cuDNN's heuristic choice (RESR_CUDA_ALGO=heuristic, or when the search fails).
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <string>

#include "backends/cuda/conv_weights.h"
#include "core/status.h"

namespace resr::cuda {

struct AlgoChoice {
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0;
};

// One conv as the search sees it: descriptors already set, device data (the search overwrites y).
struct ConvProblem {
  cudnnTensorDescriptor_t x = nullptr;
  const void* x_data = nullptr;
  const ConvWeights* weights = nullptr;
  cudnnTensorDescriptor_t y = nullptr;
  void* y_data = nullptr;
  bool keep_fma = false;  // fp32: never an algorithm that down-converts to TF32, even if faster
  std::string name;       // for the error
};

Result<AlgoChoice> choose_conv_algorithm(cudnnHandle_t handle, const ConvProblem& problem,
                                         const DeviceBuffer& search_workspace);

}  // namespace resr::cuda
