// The CUDA backend's own kernels: everything but the convolutions (cuDNN), on activations of batch 1 stored
// as fp32 or binary16 (DType) in NCHW or NHWC (each operand's Strides), with fp32 arithmetic. The per-element
// arithmetic and index maps are element_math.h's, shared with the host tests. Each launches on `stream` and
// returns at once; a launch error is reported by the next synchronising call. Pointers are device pointers
// unless stated.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "backends/cuda/element_math.h"

namespace resr::cuda {

enum class DType { kF32, kF16 };
inline std::size_t dtype_bytes(DType t) {
  return t == DType::kF32 ? 4 : 2;
}

// A [c, h, w] tensor in device memory, element (c, y, x) at element_at(...) from `data`.
struct Planes {
  void* data = nullptr;
  int c = 0, h = 0, w = 0;
  Strides s;
};

// out = in, converting the element type and the layout (same shape): fp32 <-> storage, concat copies.
void convert(const Planes& in, DType in_type, const Planes& out, DType out_type, cudaStream_t stream);

// A conv's epilogue, in place on its raw output y (element_math.h epilogue_value): bias may be null; kLeaky
// uses leaky_slope, kPrelu slopes[ch] (slopes[0] for all when one_slope); residuals have y's shape.
struct EpilogueArgs {
  const float* bias = nullptr;
  Act act = Act::kNone;
  float leaky_slope = 0.0f;
  const float* slopes = nullptr;
  bool one_slope = false;
  float out_scale = 1.0f;
  int residual_count = 0;
  const void* residuals[kMaxResiduals] = {};
  Strides residual_strides[kMaxResiduals] = {};
  float residual_scales[kMaxResiduals] = {};
};
void conv_epilogue(const Planes& y, const EpilogueArgs& args, DType t, cudaStream_t stream);

// out = sum_k coeffs[k] * in[k], k < count <= 4; out may be one of the inputs.
void weighted_sum(const Planes* in, const float* coeffs, int count, const Planes& out, DType t, cudaStream_t stream);

// [c, h, w] -> [c, h*f, w*f].
void upsample_nearest(const Planes& in, int f, const Planes& out, DType t, cudaStream_t stream);
// [c*r*r, h, w] -> [c, h*r, w*r] (PyTorch order).
void pixel_shuffle(const Planes& in, int r, const Planes& out, DType t, cudaStream_t stream);
// [c, h*r, w*r] -> [c*r*r, h, w].
void pixel_unshuffle(const Planes& in, int r, const Planes& out, DType t, cudaStream_t stream);
// out = a * pixel_shuffle(x, r) + b * upsample_nearest(base, r) (x4fast's tail).
void shuffle_add_upsampled(const Planes& x, float a, const Planes& base, float b, int r, const Planes& out, DType t,
                           cudaStream_t stream);

// INT8 convs (symmetric input, per tensor or per channel; per-channel weights; cuDNN's int8 NHWC configuration):
// quantize: `in` -> int8 NHWC, padded_c channels (those past in.c are 0) at out_pixel_stride bytes a pixel from
// `out` (padded_c for a packed buffer; a dense block's width for a part of it; element_math.h quantize_symmetric),
// channel c divided by channel_quant[2c] (device memory, in.c pairs of scale and 1 / scale: conv_weight_prep.h
// channel_quant_pairs) when not null, else by `scale`;
// int8_epilogue: the conv's int32 sums, as fp32 NHWC [h][w][acc_c], times dequant[ch] (in_scale *
// weight_scale[ch]), then the epilogue of `args`, into y; or, with `handover` (an INT8 conv that alone reads y
// comes next), quantized with handover_scale straight into its int8 NHWC input [h][w][y.c] instead of y.
void quantize_nhwc_s8(const Planes& in, DType in_type, float scale, const float* channel_quant, int padded_c, void* out,
                      int out_pixel_stride, cudaStream_t stream);
void int8_epilogue(const float* acc, int acc_c, const float* dequant, const Planes& y, const EpilogueArgs& args,
                   void* handover, float handover_scale, DType t, cudaStream_t stream);
// FP8 convs: `in` / scale -> E4M3 codes, NHWC [h][w][out_pixel_stride] from `out` (in.c for a packed buffer;
// a dense block's width for a part of it); rounded to nearest even, saturating at +-448 (__NV_SATFINITE), as
// core/fp8.h round_to_e4m3 and the CPU's emulation do.
void quantize_nhwc_e4m3(const Planes& in, DType in_type, float scale, void* out, int out_pixel_stride,
                        cudaStream_t stream);

// Device pre/post-processing of 8/16-bit interleaved pixels (rows of `row_bytes`, channels 1 or 3):
// unpack: pixels [h][w][channels] -> `out` (3 channels, out.h x out.w) in [0,1], gray replicated;
// pack: the w x h window at (x0, y0) of `in` (3 channels) -> pixels (gray: core/gray_from_rgb.h), clamped, scaled
// and rounded as core/gray_from_rgb.h sample_from_unit.
void unpack_pixels(const void* pixels, int channels, int bits, std::size_t row_bytes, const Planes& out, DType t,
                   cudaStream_t stream);
void pack_pixels(const Planes& in, int x0, int y0, int w, int h, int channels, int bits, std::size_t row_bytes,
                 void* pixels, DType t, cudaStream_t stream);

// Checking one kernel against another on the same data (RESR_CUDA_TENSOR_CONV=auto and RESR_CUDA_FUSED=auto):
// fill_test_pattern writes values in [-1, 1] that depend only on `seed` and each element's (c, y, x), whatever
// the strides; max_abs_difference writes to result[0] the largest |a - b| (+inf where either is not finite) and
// to result[1] the largest |b|, over same-shaped a and b; result: two device floats, zeroed here first.
void fill_test_pattern(const Planes& p, DType t, unsigned seed, cudaStream_t stream);
void max_abs_difference(const Planes& a, const Planes& b, DType t, float* result, cudaStream_t stream);

}  // namespace resr::cuda
