#include "backends/cuda/device.h"

#include <cuda_runtime.h>

namespace resr::cuda {

DeviceInfo query_devices() {
  DeviceInfo info;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    info.reason = cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return info;
  }
  if (n == 0) {
    info.reason = "no CUDA device";
    return info;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) info.name = prop.name;
  info.count = n;
  return info;
}

}  // namespace resr::cuda
