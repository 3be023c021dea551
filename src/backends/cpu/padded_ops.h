// Memory-bound ops of the CPU backend on PaddedPlanes (see padded_planes.h), parallelised with OpenMP.
// Each keeps the invariant: on return the output's ring and slack are zero, its interior holds the result.
// Outputs never overlap inputs unless stated.
#pragma once

#include <span>

#include "backends/cpu/padded_planes.h"
#include "backends/executable.h"
#include "core/tensor.h"

namespace resr::cpu {

void tensor_to_padded(const Tensor& in, const PaddedPlanes& out);
Tensor padded_to_tensor(const PaddedPlanes& in);
// The pixel path's ends (Executable::run_pixels). In: 8/16-bit pixels of 1 channel (gray, replicated to the
// three planes) or 3, in [0, 1] as engine::image_region_to_tensor reads them; out.geo is in's size. Out: the
// out.width x out.height window of `in` (3 planes) at (x0, y0) as pixels of 1 channel (gray_from_rgb) or 3, clamped,
// scaled and rounded as engine::paste_tensor_region writes them (core/gray_from_rgb.h).
void pixels_to_padded(const PixelRect& in, const PaddedPlanes& out);
void padded_to_pixels(const PaddedPlanes& in, int x0, int y0, const PixelWindow& out);
// out = sum_i coeffs[i] * inputs[i]; out may be one of the inputs (elementwise, in place is safe).
void weighted_sum_padded(std::span<const PaddedPlanes> inputs, std::span<const float> coeffs, const PaddedPlanes& out);
// y = x >= 0 ? x : slope[c] * x (one slope broadcast); out may equal in.
void prelu_padded(const PaddedPlanes& in, std::span<const float> slopes, const PaddedPlanes& out);
void copy_padded(const PaddedPlanes& in, const PaddedPlanes& out);
// out = round_to_e4m3(in / scale) * scale (core/fp8.h): an FP8 conv's input as its FP8 values; out may equal in.
void round_to_e4m3_padded(const PaddedPlanes& in, float scale, const PaddedPlanes& out);
// out geometry = in geometry x factor.
void upsample_nearest_padded(const PaddedPlanes& in, int factor, const PaddedPlanes& out);
// [c*r*r, h, w] -> [c, h*r, w*r], PyTorch order.
void pixel_shuffle_padded(const PaddedPlanes& in, int r, const PaddedPlanes& out);
// out = a * pixel_shuffle(x, r) + b * upsample_nearest(base, r) in one pass (x: [c*r*r, h, w], base: [c, h, w],
// out: [c, h*r, w*r]): the tail of SRVGGNetCompact (x4fast), without storing either full-size operand.
void shuffle_add_upsampled_padded(const PaddedPlanes& x, float a, const PaddedPlanes& base, float b, int r,
                                  const PaddedPlanes& out);
// [c, h*r, w*r] -> [c*r*r, h, w], PyTorch order (out geometry = in geometry / r).
void pixel_unshuffle_padded(const PaddedPlanes& in, int r, const PaddedPlanes& out);

}  // namespace resr::cpu
