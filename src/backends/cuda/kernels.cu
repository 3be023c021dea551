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
__global__ void epilogue_k(T* y, int c, std::size_t hw, EpilogueArgs a) {
  RESR_GRID_LOOP(i, std::size_t(c) * hw) {
    const int ch = int(i / hw);
    float res[kMaxResiduals];
    for (int k = 0; k < a.residual_count; ++k) res[k] = load(static_cast<const T*>(a.residuals[k]), i);
    const float slope = a.act == Act::kPrelu ? a.slopes[a.one_slope ? 0 : ch] : a.leaky_slope;
    const float bias = a.bias != nullptr ? a.bias[ch] : 0.0f;
    store(y, i, epilogue_value(load(y, i), bias, a.act, slope, a.out_scale, res, a.residual_scales, a.residual_count));
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
__global__ void upsample_k(const T* in, int h, int w, int f, T* out, std::size_t n) {
  RESR_GRID_LOOP(i, n) out[i] = in[upsample_source(i, h, w, f)];
}

template <class T>
__global__ void shuffle_k(const T* in, int h, int w, int r, T* out, std::size_t n) {
  RESR_GRID_LOOP(i, n) out[i] = in[shuffle_source(i, h, w, r)];
}

template <class T>
__global__ void unshuffle_k(const T* in, int h, int w, int r, T* out, std::size_t n) {
  RESR_GRID_LOOP(i, n) out[i] = in[unshuffle_source(i, h, w, r)];
}

template <class T>
__global__ void shuffle_add_up_k(const T* x, float a, const T* base, float b, int h, int w, int r, T* out,
                                 std::size_t n) {
  RESR_GRID_LOOP(i, n) {
    store(out, i, a * load(x, shuffle_source(i, h, w, r)) + b * load(base, upsample_source(i, h, w, r)));
  }
}

template <class T>
__global__ void unpack_k(const unsigned char* px, int w, int h, int channels, int bits, std::size_t row_bytes,
                         T* planes) {
  const std::size_t hw = std::size_t(h) * w;
  RESR_GRID_LOOP(i, 3 * hw) {
    const int c = int(i / hw), y = int((i % hw) / w), x = int(i % w);
    store(planes, i, unpack_sample(px, row_bytes, channels, bits, c, x, y));
  }
}

template <class T>
__global__ void pack_k(const T* planes, int plane_w, int plane_h, int x0, int y0, int w, int h, int channels, int bits,
                       std::size_t row_bytes, unsigned char* px) {
  const std::size_t plane = std::size_t(plane_w) * plane_h;
  RESR_GRID_LOOP(i, std::size_t(w) * h) {
    const int y = int(i / w), x = int(i % w);
    const std::size_t src = std::size_t(y0 + y) * plane_w + (x0 + x);
    const float r = load(planes, src), g = load(planes, plane + src), b = load(planes, 2 * plane + src);
    unsigned char* p = px + std::size_t(y) * row_bytes + std::size_t(x) * channels * (bits / 8);
    for (int k = 0; k < channels; ++k) {
      const unsigned q = pack_sample(r, g, b, channels, k, bits);
      if (bits == 16) {
        p[2 * k] = static_cast<unsigned char>(q & 0xffu);
        p[2 * k + 1] = static_cast<unsigned char>(q >> 8);
      } else {
        p[k] = static_cast<unsigned char>(q);
      }
    }
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

void conv_epilogue(void* y, int c, std::size_t hw, const EpilogueArgs& args, DType t, cudaStream_t s) {
  RESR_DISPATCH(t,
                (epilogue_k<T><<<blocks_for(std::size_t(c) * hw), kThreads, 0, s>>>(static_cast<T*>(y), c, hw, args)));
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
                    <<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), h, w, f, static_cast<T*>(out), n)));
}

void pixel_shuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t s) {
  const std::size_t n = std::size_t(c) * h * r * w * r;
  RESR_DISPATCH(t, (shuffle_k<T>
                    <<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), h, w, r, static_cast<T*>(out), n)));
}

void pixel_unshuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t s) {
  const std::size_t n = std::size_t(c) * r * r * h * w;
  RESR_DISPATCH(t, (unshuffle_k<T>
                    <<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(in), h, w, r, static_cast<T*>(out), n)));
}

void shuffle_add_upsampled(const void* x, float a, const void* base, float b, int c, int h, int w, int r, void* out,
                           DType t, cudaStream_t s) {
  const std::size_t n = std::size_t(c) * h * r * w * r;
  RESR_DISPATCH(t, (shuffle_add_up_k<T><<<blocks_for(n), kThreads, 0, s>>>(
                       static_cast<const T*>(x), a, static_cast<const T*>(base), b, h, w, r, static_cast<T*>(out), n)));
}

void unpack_pixels(const void* pixels, int w, int h, int channels, int bits, std::size_t row_bytes, void* planes,
                   DType t, cudaStream_t s) {
  RESR_DISPATCH(
      t, (unpack_k<T><<<blocks_for(std::size_t(3) * w * h), kThreads, 0, s>>>(
             static_cast<const unsigned char*>(pixels), w, h, channels, bits, row_bytes, static_cast<T*>(planes))));
}

void pack_pixels(const void* planes, int plane_w, int plane_h, int x0, int y0, int w, int h, int channels, int bits,
                 std::size_t row_bytes, void* pixels, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (pack_k<T><<<blocks_for(std::size_t(w) * h), kThreads, 0, s>>>(
                       static_cast<const T*>(planes), plane_w, plane_h, x0, y0, w, h, channels, bits, row_bytes,
                       static_cast<unsigned char*>(pixels))));
}

}  // namespace resr::cuda
