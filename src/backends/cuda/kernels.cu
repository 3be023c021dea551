#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

#include "backends/cuda/device_access.cuh"
#include "backends/cuda/kernels.h"

namespace resr::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 65535u * 32u ? b : 65535u * 32u);  // grid-stride loops cover the rest
}

std::size_t count(const Planes& p) {
  return std::size_t(p.c) * p.h * p.w;
}

// f(e) for every element e of `out`, in its memory order, over a grid-stride loop.
template <class F>
__device__ inline void for_each_element(const Planes& out, F&& f) {
  const std::size_t total = std::size_t(out.c) * out.h * out.w;
  for (std::size_t n = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; n < total;
       n += std::size_t(gridDim.x) * blockDim.x)
    f(coord_in_memory_order(n, out.c, out.h, out.w, out.s));
}

template <class TIn, class TOut>
__global__ void convert_k(Planes in, Planes out) {
  for_each_element(out, [&](Coord e) { store_at<TOut>(out, e, load_at<TIn>(in, e)); });
}

template <class T>
__global__ void epilogue_k(Planes y, EpilogueArgs a) {
  for_each_element(y, [&](Coord e) { store_at<T>(y, e, apply_epilogue<T>(load_at<T>(y, e), e, y.w, a)); });
}

template <class T>
__global__ void quantize_k(Planes in, float scale, const float* channel_quant, int padded_c, signed char* out,
                           int out_pixel_stride) {
  const Planes padded{nullptr, padded_c, in.h, in.w, Strides{1, std::size_t(out_pixel_stride)}};
  for_each_element(padded, [&](Coord e) {
    const float divisor = channel_quant != nullptr && e.c < in.c ? channel_quant[2 * e.c] : scale;
    const int q = e.c < in.c ? quantize_symmetric(load_at<T>(in, e), divisor) : 0;
    out[element_at(e, in.w, padded.s)] = static_cast<signed char>(q);
  });
}

template <class T>
__global__ void quantize_e4m3_k(Planes in, float scale, __nv_fp8_storage_t* out, int out_pixel_stride) {
  const Strides packed{1, std::size_t(out_pixel_stride)};
  for_each_element(in, [&](Coord e) {
    out[element_at(e, in.w, packed)] = __nv_cvt_float_to_fp8(load_at<T>(in, e) / scale, __NV_SATFINITE, __NV_E4M3);
  });
}

template <class T>
__global__ void int8_epilogue_k(const float* acc, int acc_c, const float* dequant, Planes y, EpilogueArgs a,
                                signed char* handover, float handover_scale) {
  const Strides acc_s{1, std::size_t(acc_c)}, handover_s{1, std::size_t(y.c)};
  for_each_element(y, [&](Coord e) {
    const float v = apply_epilogue<T>(acc[element_at(e, y.w, acc_s)] * dequant[e.c], e, y.w, a);
    if (handover != nullptr) {
      handover[element_at(e, y.w, handover_s)] = static_cast<signed char>(quantize_symmetric(v, handover_scale));
    } else {
      store_at<T>(y, e, v);
    }
  });
}

struct SumArgs {
  Planes in[4];
  float coeffs[4];
  int count;
};

template <class T>
__global__ void weighted_sum_k(SumArgs a, Planes out) {
  for_each_element(out, [&](Coord e) {
    float v = 0.0f;
    for (int k = 0; k < a.count; ++k) v += a.coeffs[k] * load_at<T>(a.in[k], e);
    store_at<T>(out, e, v);
  });
}

enum class Map { kUpsample, kShuffle, kUnshuffle };

template <class T, Map kMap>
__global__ void remap_k(Planes in, int f, Planes out) {
  for_each_element(out, [&](Coord e) {
    const Coord src = kMap == Map::kUpsample  ? upsample_source(e, f)
                      : kMap == Map::kShuffle ? shuffle_source(e, f)
                                              : unshuffle_source(e, f);
    store_at<T>(out, e, load_at<T>(in, src));
  });
}

template <class T>
__global__ void shuffle_add_up_k(Planes x, float a, Planes base, float b, int r, Planes out) {
  for_each_element(out, [&](Coord e) {
    store_at<T>(out, e, a * load_at<T>(x, shuffle_source(e, r)) + b * load_at<T>(base, upsample_source(e, r)));
  });
}

template <class T>
__global__ void unpack_k(const unsigned char* px, int channels, int bits, std::size_t row_bytes, Planes out) {
  for_each_element(out,
                   [&](Coord e) { store_at<T>(out, e, unpack_sample(px, row_bytes, channels, bits, e.c, e.x, e.y)); });
}

template <class T>
__global__ void pack_k(Planes in, int x0, int y0, int w, int h, int channels, int bits, std::size_t row_bytes,
                       unsigned char* px) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < std::size_t(w) * h;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const int y = int(i / std::size_t(w)), x = int(i % std::size_t(w));
    const float r = load_at<T>(in, Coord{0, y0 + y, x0 + x}), g = load_at<T>(in, Coord{1, y0 + y, x0 + x}),
                b = load_at<T>(in, Coord{2, y0 + y, x0 + x});
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

template <class T>
__global__ void fill_test_pattern_k(Planes p, unsigned seed) {
  for_each_element(p, [&](Coord e) {
    unsigned v = seed ^ (unsigned(e.c) * 0x9E3779B1u) ^ (unsigned(e.y) * 0x85EBCA77u) ^ (unsigned(e.x) * 0xC2B2AE3Du);
    v ^= v >> 15;  // a few rounds of multiply-xorshift mixing
    v *= 0x2C1B3C6Du;
    v ^= v >> 12;
    v *= 0x297A2D39u;
    v ^= v >> 15;
    store_at<T>(p, e, float(v >> 8) / float(1u << 23) - 1.0f);
  });
}

// Non-negative floats order as their bit patterns, so atomicMax on the bits keeps the largest.
template <class T>
__global__ void max_abs_difference_k(Planes a, Planes b, unsigned* result) {
  for_each_element(b, [&](Coord e) {
    const float x = load_at<T>(a, e), y = load_at<T>(b, e);
    const float d = isfinite(x) && isfinite(y) ? fabsf(x - y) : INFINITY;
    atomicMax(result, __float_as_uint(d));
    if (isfinite(y)) atomicMax(result + 1, __float_as_uint(fabsf(y)));
  });
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

void convert(const Planes& in, DType in_type, const Planes& out, DType out_type, cudaStream_t s) {
  const unsigned blocks = blocks_for(count(out));
  if (in_type == DType::kF32) {
    RESR_DISPATCH(out_type, (convert_k<float, T><<<blocks, kThreads, 0, s>>>(in, out)));
  } else {
    RESR_DISPATCH(out_type, (convert_k<__half, T><<<blocks, kThreads, 0, s>>>(in, out)));
  }
}

void conv_epilogue(const Planes& y, const EpilogueArgs& args, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (epilogue_k<T><<<blocks_for(count(y)), kThreads, 0, s>>>(y, args)));
}

void quantize_nhwc_s8(const Planes& in, DType in_type, float scale, const float* channel_quant, int padded_c, void* out,
                      int out_pixel_stride, cudaStream_t s) {
  const std::size_t n = std::size_t(padded_c) * in.h * in.w;
  RESR_DISPATCH(in_type, (quantize_k<T><<<blocks_for(n), kThreads, 0, s>>>(
                             in, scale, channel_quant, padded_c, static_cast<signed char*>(out), out_pixel_stride)));
}

void quantize_nhwc_e4m3(const Planes& in, DType in_type, float scale, void* out, int out_pixel_stride, cudaStream_t s) {
  RESR_DISPATCH(in_type, (quantize_e4m3_k<T><<<blocks_for(count(in)), kThreads, 0, s>>>(
                             in, scale, static_cast<__nv_fp8_storage_t*>(out), out_pixel_stride)));
}

void int8_epilogue(const float* acc, int acc_c, const float* dequant, const Planes& y, const EpilogueArgs& args,
                   void* handover, float handover_scale, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (int8_epilogue_k<T><<<blocks_for(count(y)), kThreads, 0, s>>>(
                       acc, acc_c, dequant, y, args, static_cast<signed char*>(handover), handover_scale)));
}

void weighted_sum(const Planes* in, const float* coeffs, int count_in, const Planes& out, DType t, cudaStream_t s) {
  SumArgs a{};
  a.count = count_in < 4 ? count_in : 4;
  for (int k = 0; k < a.count; ++k) {
    a.in[k] = in[k];
    a.coeffs[k] = coeffs[k];
  }
  RESR_DISPATCH(t, (weighted_sum_k<T><<<blocks_for(count(out)), kThreads, 0, s>>>(a, out)));
}

void upsample_nearest(const Planes& in, int f, const Planes& out, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (remap_k<T, Map::kUpsample><<<blocks_for(count(out)), kThreads, 0, s>>>(in, f, out)));
}

void pixel_shuffle(const Planes& in, int r, const Planes& out, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (remap_k<T, Map::kShuffle><<<blocks_for(count(out)), kThreads, 0, s>>>(in, r, out)));
}

void pixel_unshuffle(const Planes& in, int r, const Planes& out, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (remap_k<T, Map::kUnshuffle><<<blocks_for(count(out)), kThreads, 0, s>>>(in, r, out)));
}

void shuffle_add_upsampled(const Planes& x, float a, const Planes& base, float b, int r, const Planes& out, DType t,
                           cudaStream_t s) {
  RESR_DISPATCH(t, (shuffle_add_up_k<T><<<blocks_for(count(out)), kThreads, 0, s>>>(x, a, base, b, r, out)));
}

void unpack_pixels(const void* pixels, int channels, int bits, std::size_t row_bytes, const Planes& out, DType t,
                   cudaStream_t s) {
  RESR_DISPATCH(t, (unpack_k<T><<<blocks_for(count(out)), kThreads, 0, s>>>(static_cast<const unsigned char*>(pixels),
                                                                            channels, bits, row_bytes, out)));
}

void pack_pixels(const Planes& in, int x0, int y0, int w, int h, int channels, int bits, std::size_t row_bytes,
                 void* pixels, DType t, cudaStream_t s) {
  RESR_DISPATCH(t, (pack_k<T><<<blocks_for(std::size_t(w) * h), kThreads, 0, s>>>(
                       in, x0, y0, w, h, channels, bits, row_bytes, static_cast<unsigned char*>(pixels))));
}

void fill_test_pattern(const Planes& p, DType t, unsigned seed, cudaStream_t s) {
  RESR_DISPATCH(t, (fill_test_pattern_k<T><<<blocks_for(count(p)), kThreads, 0, s>>>(p, seed)));
}

void max_abs_difference(const Planes& a, const Planes& b, DType t, float* result, cudaStream_t s) {
  cudaMemsetAsync(result, 0, 2 * sizeof(float), s);
  RESR_DISPATCH(t, (max_abs_difference_k<T>
                    <<<blocks_for(count(b)), kThreads, 0, s>>>(a, b, reinterpret_cast<unsigned*>(result))));
}

}  // namespace resr::cuda
