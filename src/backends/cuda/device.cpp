#include "backends/cuda/device.h"

#include <cuda_runtime.h>
#include <cudnn.h>

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

std::string device_fingerprint() {
  int device = 0, driver = 0, runtime = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess ||
      cudaDriverGetVersion(&driver) != cudaSuccess || cudaRuntimeGetVersion(&runtime) != cudaSuccess) {
    cudaGetLastError();
    return {};
  }
  return std::string(prop.name) + "|sm" + std::to_string(prop.major) + std::to_string(prop.minor) + "|" +
         std::to_string(prop.multiProcessorCount) + " SMs|" + std::to_string(prop.totalGlobalMem >> 20) +
         " MiB|driver " + std::to_string(driver) + "|runtime " + std::to_string(runtime) + "|cudnn " +
         std::to_string(cudnnGetVersion()) + "|";
}

}  // namespace resr::cuda
