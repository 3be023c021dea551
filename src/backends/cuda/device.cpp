#include "backends/cuda/device.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <future>
#include <mutex>

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

namespace {

std::mutex warm_mutex;
std::future<cudnnHandle_t> warm_handle;
bool warm_started = false;

}  // namespace

void start_warm_up() {
  const std::lock_guard<std::mutex> lock(warm_mutex);
  if (warm_started) return;
  warm_started = true;
  warm_handle = std::async(std::launch::async, []() -> cudnnHandle_t {
    if (query_devices().count == 0) return nullptr;
    cudnnHandle_t h = nullptr;
    if (cudaFree(nullptr) != cudaSuccess || cudnnCreate(&h) != CUDNN_STATUS_SUCCESS) {
      cudaGetLastError();
      return nullptr;
    }
    return h;
  });
}

cudnnContext* take_warm_handle() {
  const std::lock_guard<std::mutex> lock(warm_mutex);
  return warm_handle.valid() ? warm_handle.get() : nullptr;
}

void end_warm_up() {
  if (cudnnHandle_t h = take_warm_handle(); h != nullptr) cudnnDestroy(h);
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
