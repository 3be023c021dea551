// MATLAB-compatible bicubic imresize of one float plane, as BasicSR's matlab_functions.imresize reimplements it
// (used by NIQE for its second scale):
//   - output size ceil(in * scale) per axis; output pixel x (1-based) samples input position u = x / scale +
//     0.5 * (1 - 1 / scale) (pixel centres aligned);
//   - cubic kernel with a = -0.5 (Keys), support 4 taps; when scale < 1 and antialiasing, the kernel is stretched
//     to width 4 / scale and scaled by `scale`, then every row of weights is normalised to sum 1;
//   - taps outside the image read the symmetric (half-sample mirrored) neighbour: -1 -> 0, n -> n - 1;
//   - rows (the H dimension) are filtered first, then columns, the intermediate stored as float32, like the
//     float32 torch tensors of the reference. Weights and sums are computed in double.
// Preconditions (RESR_ASSERT): scale > 0, a non-empty plane. Pure; safe from any thread.
#pragma once

#include "metrics/plane.h"

namespace resr::metrics {

FloatPlane matlab_imresize(const FloatPlane& in, double scale, bool antialiasing = true);

}  // namespace resr::metrics
