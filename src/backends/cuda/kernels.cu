#include <cuda_fp16.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace resr::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 65535u * 32u ? b : 65535u * 32u);  // grid-stride loops cover the rest
}

__device__ inline float load(const float* p, std::size_t i) {
  return p[i];
}
__device__ inline float load(const __half* p, std::size_t i) {
  return __half2float(p[i]);
}
__device__ inline void store(float* p, std::size_t i, float v) {
  p[i] = v;
}
__device__ inline void store(__half* p, std::size_t i, float v) {
  p[i] = __float2half_rn(v);
}

#define RESR_GRID_LOOP(i, n)                                                        \
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::size_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void to_storage_k(const float* in, T* out, std::size_t n) {
  RESR_GRID_LOOP(i, n) store(out, i, in[i]);
}
template <class T>
__global__ void from_storage_k(const T* in, float* out, std::size_t n) {
  RESR_GRID_LOOP(i, n) out[i] = load(in, i);
}

template <class T>
__global__ void bias_act_k(T* x, int c, std::size_t hw, const float* bias, Act act, float slope, const float* slopes,
                           bool one_slope) {
  RESR_GRID_LOOP(i, std::size_t(c) * hw) {
    const int ch = int(i / hw);
    float v = load(x, i);
    if (bias != nullptr) v += bias[ch];
    if (act == Act::kLeaky && v < 0.0f) v *= slope;
    if (act == Act::kPrelu && v < 0.0f) v *= slopes[one_slope ? 0 : ch];
    store(x, i, v);
  }
}

struct SumArgs {
  const void* in[4];
  float coeffs[4];
  int count;
};

template <class T>
__global__ void weighted_sum_k(SumArgs a, T* out, std::size_t n) {
  RESR_GRID_LOOP(i, n) {
    float v = 0.0f;
    for (int k = 0; k < a.count; ++k) v += a.coeffs[k] * load(static_cast<const T*>(a.in[k]), i);
    store(out, i, v);
  }
}

template <class T>
__global__ void upsample_k(const T* in, int c, int h, int w, int f, T* out) {
  const int oh = h * f, ow = w * f;
  RESR_GRID_LOOP(i, std::size_t(c) * oh * ow) {
    const int x = int(i % ow), y = int((i / ow) % oh), ch = int(i / (std::size_t(ow) * oh));
    out[i] = in[(std::size_t(ch) * h + y / f) * w + x / f];
  }
}

template <class T>
__global__ void shuffle_k(const T* in, int c, int h, int w, int r, T* out) {
  const int oh = h * r, ow = w * r;
  RESR_GRID_LOOP(i, std::size_t(c) * oh * ow) {
    const int x = int(i % ow), y = int((i / ow) % oh), ch = int(i / (std::size_t(ow) * oh));
    const int src_c = ch * r * r + (y % r) * r + x % r;
    out[i] = in[(std::size_t(src_c) * h + y / r) * w + x / r];
  }
}

template <class T>
__global__ void unshuffle_k(const T* in, int c, int h, int w, int r, T* out) {
  const int oc = c * r * r;
  RESR_GRID_LOOP(i, std::size_t(oc) * h * w) {
    const int x = int(i % w), y = int((i / w) % h), co = int(i / (std::size_t(w) * h));
    const int ch = co / (r * r), dy = (co / r) % r, dx = co % r;
    out[i] = in[(std::size_t(ch) * h * r + y * r + dy) * (std::size_t(w) * r) + x * r + dx];
  }
}

}  // namespace

#define RESR_DISPATCH(t, F) \
  if ((t) == DType::kF32) { \
    using T = float;        \
    F;                      \
  } else {                  \
    using T = __half;       \
    F;                      \
  }

void to_storage(const float* in, void* out, std::size_t n, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (to_storage_k<T><<<blocks_for(n), kThreads, 0, s>>>(in, static_cast<T*>(out), n)));
}

void from_storage(const void* in, float* out, std::size_t n, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (from_storage_k<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), out, n)));
}

void bias_act(void* x, int c, std::size_t hw, const float* bias, Act act, float slope, const float* slopes,
              bool one_slope, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (bias_act_k<T><<<blocks_for(std::size_t(c) * hw), kThreads, 0, s>>>(static_cast<T*>(x), c, hw, bias,
                                                                                       act, slope, slopes, one_slope)));
}

void weighted_sum(const void* const* in, const float* coeffs, int count, void* out, std::size_t n, DType t,
                  cudaStream_t s) {
  SumArgs a{};
  a.count = count < 4 ? count : 4;
  for (int k = 0; k < a.count; ++k) {
    a.in[k] = in[k];
    a.coeffs[k] = coeffs[k];
  }
  RESR_DISPATCH(t, (weighted_sum_k<T><<<blocks_for(n), kThreads, 0, s>>>(a, static_cast<T*>(out), n)));
}

void upsample_nearest(const void* in, int c, int h, int w, int f, void* out, DType t, cudaStream_t s) {
  const std::size_t n = std::size_t(c) * h * f * w * f;
  RESR_DISPATCH(t, (upsample_k<T>
                    <<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), c, h, w, f, static_cast<T*>(out))));
}

void pixel_shuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t s) {
  const std::size_t n = std::size_t(c) * h * r * w * r;
  RESR_DISPATCH(t, (shuffle_k<T>
                    <<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), c, h, w, r, static_cast<T*>(out))));
}

void pixel_unshuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t s) {
  const std::size_t n = std::size_t(c) * r * r * h * w;
  RESR_DISPATCH(t, (unshuffle_k<T>
                    <<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), c, h, w, r, static_cast<T*>(out))));
}

}  // namespace resr::cuda
