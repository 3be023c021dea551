#include "backends/cuda/conv_algorithm.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <optional>
#include <string>

namespace resr::cuda {

namespace {

constexpr const char* kCacheKind = "algo|";

// The workspace of `a` (its algorithm under its math type: cuDNN picks the kernel from both, and the sizes
// differ), into a.workspace; false when cuDNN refuses the pair. The descriptor is left at its search math type.
bool query_workspace(cudnnHandle_t handle, const ConvProblem& p, AlgoChoice& a) {
  const ConvWeights& c = *p.weights;
  const bool ok = cudnnSetConvolutionMathType(c.desc.get(), a.math) == CUDNN_STATUS_SUCCESS &&
                  cudnnGetConvolutionForwardWorkspaceSize(handle, p.x, c.filter.get(), c.desc.get(), p.y, a.algo,
                                                          &a.workspace) == CUDNN_STATUS_SUCCESS;
  cudnnSetConvolutionMathType(c.desc.get(), c.search_math);
  return ok;
}

// A cached choice, when cuDNN still gives the algorithm a workspace size for the problem.
std::optional<AlgoChoice> cached_choice(cudnnHandle_t handle, const ConvProblem& p, const std::string& entry) {
  int algo = -1, math = -1;
  if (std::sscanf(entry.c_str(), "%d %d", &algo, &math) != 2 || algo < 0 || algo >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT ||
      math < 0 || math > CUDNN_FMA_MATH)
    return std::nullopt;
  AlgoChoice a{cudnnConvolutionFwdAlgo_t(algo), cudnnMathType_t(math), 0};
  if (p.keep_fma && a.math != CUDNN_FMA_MATH) return std::nullopt;
  if (!query_workspace(handle, p, a)) return std::nullopt;
  return a;
}

}  // namespace

Result<std::string> conv_problem_key(const ConvProblem& p) {
  std::string key;
  for (const cudnnTensorDescriptor_t t : {p.x, p.y}) {
    cudnnDataType_t type{};
    int n = 0, c = 0, h = 0, w = 0, ns = 0, cs = 0, hs = 0, ws = 0;
    RESR_CUDNN(cudnnGetTensor4dDescriptor(t, &type, &n, &c, &h, &w, &ns, &cs, &hs, &ws));
    append_key_group(key, "T", {type, n, c, h, w, ns, cs, hs, ws});
  }
  const ConvWeights& weights = *p.weights;
  cudnnDataType_t type{};
  cudnnTensorFormat_t format{};
  int k = 0, c = 0, h = 0, w = 0;
  RESR_CUDNN(cudnnGetFilter4dDescriptor(weights.filter.get(), &type, &format, &k, &c, &h, &w));
  append_key_group(key, "F", {type, format, k, c, h, w});
  int pad_h = 0, pad_w = 0, u = 0, v = 0, dil_h = 0, dil_w = 0, groups = 0;
  cudnnConvolutionMode_t mode{};
  cudnnDataType_t compute{};
  RESR_CUDNN(
      cudnnGetConvolution2dDescriptor(weights.desc.get(), &pad_h, &pad_w, &u, &v, &dil_h, &dil_w, &mode, &compute));
  RESR_CUDNN(cudnnGetConvolutionGroupCount(weights.desc.get(), &groups));
  // Not the descriptor's math type: a run sets the chosen one there (the search weighs them all).
  append_key_group(key, "C", {pad_h, pad_w, u, v, dil_h, dil_w, mode, compute, groups, p.keep_fma});
  return key;
}

Result<AlgoChoice> choose_conv_algorithm(cudnnHandle_t handle, const ConvProblem& p,
                                         const DeviceBuffer& search_workspace, const CacheView& cache) {
  const ConvWeights& c = *p.weights;
  std::string key;
  if (search_workspace.get() != nullptr && cache.cache != nullptr) {
    if (Result<std::string> k = conv_problem_key(p); k.ok()) key = kCacheKind + *k;
    if (!key.empty())
      if (const std::optional<std::string> entry = cache.get(key))
        if (const std::optional<AlgoChoice> a = cached_choice(handle, p, *entry)) return *a;
  }
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  bool measured = false;
  // The search weighs the kernels the descriptor's math type allows: the upload-time one, not a run's.
  RESR_CUDNN(cudnnSetConvolutionMathType(c.desc.get(), c.search_math));
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
    AlgoChoice a{perf[i].algo, p.keep_fma ? CUDNN_FMA_MATH : perf[i].mathType, perf[i].memory};
    // The heuristic's figure is an estimate, and a math type forced to FMA may need another size: ask.
    if ((!measured || a.math != perf[i].mathType) && !query_workspace(handle, p, a)) continue;
    if (measured && !key.empty()) cache.put(key, std::to_string(int(a.algo)) + " " + std::to_string(int(a.math)));
    return a;
  }
  return Status::error("cudnn: no forward algorithm for " + p.name);
}

}  // namespace resr::cuda
