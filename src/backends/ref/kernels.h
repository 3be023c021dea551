// Reference kernels: one naive, single-threaded function per IR op, written for obviousness.
// They are the oracle every fast kernel is tested against; never optimise them.
// All tensors are CHW float32 (core/tensor.h). Preconditions are the ones ir::verify guarantees.
#pragma once

#include <span>

#include "core/tensor.h"
#include "ir/graph.h"

namespace resr::ref {

// Direct convolution with zero padding; weights [oc][ic][kh][kw]; bias may be empty; fused activation.
Tensor conv2d(const Tensor& in, const ir::ConvParams& p, std::span<const float> weights, std::span<const float> bias);
// The same convolution with INT8 arithmetic, ir::ConvQuant applied literally (q.precision is not read): input and
// weights quantized (round half to even, x / scale an IEEE float division; a NaN input becomes qmin), products of
// (q - in_zero) * qw summed exactly in int64 (padding is 0.0, i.e. q = in_zero: no contribution), dequantized as
// sum * in_scale * weight_scales[o] + bias in double, then the activation.
Tensor conv2d_int8(const Tensor& in, const ir::ConvParams& p, const ir::ConvQuant& q, std::span<const float> weights,
                   std::span<const float> bias);
// The same convolution with FP8 E4M3 operands, ir::ConvQuant applied literally (q.precision is not read): input and
// weights rounded by round_to_e4m3 (core/fp8.h) after dividing by their scales, products of the two E4M3 values
// summed in double, dequantized as sum * in_scale * weight_scales[o] + bias in double, then the activation.
Tensor conv2d_fp8(const Tensor& in, const ir::ConvParams& p, const ir::ConvQuant& q, std::span<const float> weights,
                  std::span<const float> bias);
// y = x >= 0 ? x : slope[c] * x (one slope is broadcast to every channel).
Tensor prelu(const Tensor& in, std::span<const float> slopes);
Tensor concat(std::span<const Tensor* const> inputs);
// out = sum_i coeffs[i] * in[i]
Tensor weighted_sum(std::span<const Tensor* const> inputs, std::span<const float> coeffs);
Tensor upsample_nearest(const Tensor& in, int factor);
// out[c][y*r + i][x*r + j] = in[c*r*r + i*r + j][y][x]
Tensor pixel_shuffle(const Tensor& in, int r);
// out[c*r*r + i*r + j][y][x] = in[c][y*r + i][x*r + j]  (h and w multiples of r)
Tensor pixel_unshuffle(const Tensor& in, int r);

}  // namespace resr::ref
