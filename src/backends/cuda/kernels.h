// The CUDA backend's own kernels: everything but the convolutions (cuDNN), on NCHW activations of batch 1
// stored as fp32 or binary16 (DType), with fp32 arithmetic. The per-element arithmetic is element_math.h's,
// shared with the host tests. Each launches on `stream` and returns at once; a launch error is reported by the
// next synchronising call. Pointers are device pointers unless stated.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "backends/cuda/element_math.h"

namespace resr::cuda {

enum class DType { kF32, kF16 };
inline std::size_t dtype_bytes(DType t) {
  return t == DType::kF32 ? 4 : 2;
}

// fp32 <-> storage type, n elements.
void to_storage(const float* in, void* out, std::size_t n, DType t, cudaStream_t stream);
void from_storage(const void* in, float* out, std::size_t n, DType t, cudaStream_t stream);

// A conv's epilogue, in place on its raw output y [c][hw] (element_math.h epilogue_value): bias may be null;
// kLeaky uses leaky_slope, kPrelu slopes[ch] (slopes[0] for all when one_slope); residuals are [c][hw] values.
struct EpilogueArgs {
  const float* bias = nullptr;
  Act act = Act::kNone;
  float leaky_slope = 0.0f;
  const float* slopes = nullptr;
  bool one_slope = false;
  float out_scale = 1.0f;
  int residual_count = 0;
  const void* residuals[kMaxResiduals] = {};
  float residual_scales[kMaxResiduals] = {};
};
void conv_epilogue(void* y, int c, std::size_t hw, const EpilogueArgs& args, DType t, cudaStream_t stream);

// out = sum_k coeffs[k] * in[k], k < count <= 4, n elements; out may be one of the inputs.
void weighted_sum(const void* const* in, const float* coeffs, int count, void* out, std::size_t n, DType t,
                  cudaStream_t stream);

// [c, h, w] -> [c, h*f, w*f].
void upsample_nearest(const void* in, int c, int h, int w, int f, void* out, DType t, cudaStream_t stream);
// [c*r*r, h, w] -> [c, h*r, w*r] (PyTorch order); c is the output channel count.
void pixel_shuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t stream);
// [c, h*r, w*r] -> [c*r*r, h, w]; c is the input channel count, h and w the output size.
void pixel_unshuffle(const void* in, int c, int h, int w, int r, void* out, DType t, cudaStream_t stream);
// out = a * pixel_shuffle(x, r) + b * upsample_nearest(base, r): x [c*r*r, h, w], base [c, h, w] (x4fast's tail).
void shuffle_add_upsampled(const void* x, float a, const void* base, float b, int c, int h, int w, int r, void* out,
                           DType t, cudaStream_t stream);

// Device pre/post-processing of 8/16-bit interleaved pixels (rows of `row_bytes`, channels 1 or 3):
// unpack: pixels [h][w][channels] -> 3 planes in [0,1] (gray replicated) in storage type;
// pack: a w x h window at (x0, y0) of 3 planes [3][plane_h][plane_w] -> pixels (gray = mean of the planes),
// clamped, scaled and rounded as element_math.h sample_from_unit.
void unpack_pixels(const void* pixels, int w, int h, int channels, int bits, std::size_t row_bytes, void* planes,
                   DType t, cudaStream_t stream);
void pack_pixels(const void* planes, int plane_w, int plane_h, int x0, int y0, int w, int h, int channels, int bits,
                 std::size_t row_bytes, void* pixels, DType t, cudaStream_t stream);

}  // namespace resr::cuda
