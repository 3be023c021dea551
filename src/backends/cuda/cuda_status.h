// CUDA / cuDNN results as resr Status, and owning device and pinned-host allocations.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>
#include <utility>

#include "core/status.h"

namespace resr::cuda {

// Allocation failures are marked out of memory: the caller may retry with smaller tiles.
inline Status cuda_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return ok_status();
  std::string message = std::string("cuda: ") + what + ": " + cudaGetErrorString(e);
  return e == cudaErrorMemoryAllocation ? Status::out_of_memory(std::move(message)) : Status::error(std::move(message));
}
inline Status cudnn_failure(cudnnStatus_t e, std::string message) {
  const bool memory = e == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
                      e == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
  return memory ? Status::out_of_memory(std::move(message)) : Status::error(std::move(message));
}
inline Status cudnn_status(cudnnStatus_t e, const char* what) {
  if (e == CUDNN_STATUS_SUCCESS) return ok_status();
  return cudnn_failure(e, std::string("cudnn: ") + what + ": " + cudnnGetErrorString(e));
}
#define RESR_CUDA(call) RESR_RETURN_IF_ERROR(::resr::cuda::cuda_status((call), #call))
#define RESR_CUDNN(call) RESR_RETURN_IF_ERROR(::resr::cuda::cudnn_status((call), #call))

// After work that may have failed, to try another way: clears the last error (cudaGetLastError), then checks
// that the device still runs. A fault in a kernel (an illegal address, a launch failure) cannot be cleared, and
// every later call of the process fails with it; synchronizing the stream returns it (an error already cleared is
// not returned again). This says so once, naming what ran (`what`), instead of letting the fallback fail in its
// place.
inline Status device_still_usable(cudaStream_t stream, const std::string& what) {
  cudaGetLastError();
  const cudaError_t e = cudaStreamSynchronize(stream);
  if (e == cudaSuccess) return ok_status();
  return Status::error("cuda: the GPU failed in " + what + ": " + cudaGetErrorString(e));
}

// One allocation, freed with the owner: device memory (cudaMalloc) or page-locked host memory (cudaMallocHost,
// for asynchronous copies that overlap).
// This thread's stream-capture mode relaxed while it lives: allocating and freeing count as "potentially unsafe"
// while another thread of the process (a host application's) captures a CUDA graph in the default global mode,
// and would then fail and break that capture. None of ours happens inside a capture of our own.
class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() { cudaThreadExchangeStreamCaptureMode(&mode_); }
  ~RelaxedCaptureMode() { cudaThreadExchangeStreamCaptureMode(&mode_); }
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

template <bool kPinnedHost>
class CudaBuffer {
 public:
  CudaBuffer() = default;
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;
  CudaBuffer(CudaBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  CudaBuffer& operator=(CudaBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~CudaBuffer() { release(); }

  // Exactly `bytes` (0: none); the old contents are gone.
  Status allocate(std::size_t bytes) {
    release();
    if (bytes == 0) return ok_status();
    const RelaxedCaptureMode relaxed;
    const cudaError_t e = kPinnedHost ? cudaMallocHost(&p_, bytes) : cudaMalloc(&p_, bytes);
    if (e != cudaSuccess) {
      p_ = nullptr;
      cudaGetLastError();  // clear it: a later run's error check must not report this failure again
      return cuda_status(e, kPinnedHost ? "cudaMallocHost" : "cudaMalloc");
    }
    bytes_ = bytes;
    return ok_status();
  }
  // At least `bytes`, keeping the allocation when it is large enough. When the larger one cannot be had, the old
  // size is kept if it can be (first beside it, then in its place).
  Status reserve(std::size_t bytes) {
    if (bytes <= bytes_) return ok_status();
    CudaBuffer larger;
    if (larger.allocate(bytes).ok()) {
      *this = std::move(larger);  // (the move swaps: the old allocation goes with `larger`)
      return ok_status();
    }
    const std::size_t old = bytes_;
    Status failed = allocate(bytes);  // frees the old one first
    if (!failed.ok() && old > 0 && !allocate(old).ok()) release();
    return failed;
  }
  // Allocates and copies, on `stream` (never the legacy default stream: while any blocking stream in the process
  // captures a CUDA graph it is unusable), and waits for the copy: from pageable memory a copy may return before
  // its DMA is done.
  Status upload(const void* host, std::size_t bytes, cudaStream_t stream) {
    static_assert(!kPinnedHost);
    RESR_RETURN_IF_ERROR(allocate(bytes));
    RESR_CUDA(cudaMemcpyAsync(p_, host, bytes, cudaMemcpyHostToDevice, stream));
    RESR_CUDA(cudaStreamSynchronize(stream));
    return ok_status();
  }
  void* get() const { return p_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void release() {
    if (p_ != nullptr) {
      const RelaxedCaptureMode relaxed;
      if constexpr (kPinnedHost) {
        cudaFreeHost(p_);
      } else {
        cudaFree(p_);
      }
    }
    p_ = nullptr;
    bytes_ = 0;
  }
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

using DeviceBuffer = CudaBuffer<false>;
using PinnedBuffer = CudaBuffer<true>;

}  // namespace resr::cuda
