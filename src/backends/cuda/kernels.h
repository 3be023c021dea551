// The CUDA backend's own kernels: everything but the convolutions (cuDNN), on NCHW activations of batch 1
// stored as fp32 or binary16 (DType), with fp32 arithmetic. Each launches on `stream` and returns at once;
// a launch error is reported by the next synchronising call. Pointers are device pointers.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

namespace resr::cuda {

enum class DType { kF32, kF16 };
inline std::size_t dtype_bytes(DType t) {
  return t == DType::kF32 ? 4 : 2;
}

enum class Act { kNone, kLeaky, kPrelu };

// fp32 <-> storage type, n elements.
void to_storage(const float* in, void* out, std::size_t n, DType t, cudaStream_t stream);
void from_storage(const void* in, float* out, std::size_t n, DType t, cudaStream_t stream);

// In place on x [c][hw]: x = act(x + bias[ch]) (bias may be null); kLeaky uses `slope`, kPrelu slopes[ch]
// (or slopes[0] for all when `one_slope`).
void bias_act(void* x, int c, std::size_t hw, const float* bias, Act act, float slope, const float* slopes,
              bool one_slope, DType t, cudaStream_t stream);

// out = sum_k coeffs[k] * in[k], k < count <= 4, n elements; out may be one of the inputs.
void weighted_sum(const void* const* in, const float* coeffs, int count, void* out, std::size_t n, DType t,
                  cudaStream_t stream);

// [c, h, w] -> [c, h*f, w*f].
void upsample_nearest(const void* in, int c, int h, int w, int f, void* out, DType t, cudaStream_t stream);
// [c*r*r, h, w] -> [c, h*r, w*r] (PyTorch order); c is the output channel count.
void pixel_shuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t stream);
// [c, h*r, w*r] -> [c*r*r, h, w]; c is the input channel count, h and w the output size.
void pixel_unshuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t stream);

}  // namespace resr::cuda
