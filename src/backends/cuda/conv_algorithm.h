// A conv's algorithm in cuDNN's legacy API: measured (cudnnFind, as PyTorch's cudnn.benchmark) when a search
// workspace is given, else cuDNN's heuristic choice (RESR_CUDA_ALGO=heuristic, or when the search fails). A
// measured choice is kept in the plan cache (plan_cache.h) under the problem as cuDNN sees it, and a later search
// of the same problem takes it from there (when cuDNN still accepts it) instead of running every algorithm.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <string>

#include "backends/cuda/conv_weights.h"
#include "backends/cuda/plan_cache.h"
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
  // fp32: always CUDNN_FMA_MATH (DEFAULT_MATH allows TF32 on Ampere and later, ALLOW_CONVERSION down-converts;
  // TF32's 10-bit mantissa would break the fp32 accuracy), even if another math type is faster.
  bool keep_fma = false;
  std::string name;  // for the error
};

Result<AlgoChoice> choose_conv_algorithm(cudnnHandle_t handle, const ConvProblem& problem,
                                         const DeviceBuffer& search_workspace, const CacheView& cache);

// The problem's cache key: both tensors (type, sizes, strides), the filter, the conv descriptor (padding,
// strides, dilation, mode, compute type, groups) and keep_fma.
Result<std::string> conv_problem_key(const ConvProblem& problem);

}  // namespace resr::cuda
