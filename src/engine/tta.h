// Test-time augmentation (realesrgan-ncnn-vulkan's -x): a tile is run through the model in the 8 orientations of
// the square (identity, flips, rotations by 90 degrees, transposes) and the 8 outputs, turned back, are averaged.
// 8x the inference for a little less noise and a result that no longer depends on the orientation of the input.
//
//   Tensor y = run_with_tta(x, [&](const Tensor& t) { return model.run_tile(t); });
// Orientation k (0..7): bit 2 transposes (x <-> y) first, then bit 0 mirrors left-right and bit 1 top-bottom.
#pragma once

#include <functional>

#include "core/status.h"
#include "core/tensor.h"

namespace resr::engine {

inline constexpr int kOrientations = 8;

// `t` (c x h x w) in orientation k; k with bit 2 gives a c x w x h tensor.
Tensor orient(const Tensor& t, int k);
// The inverse: unorient(orient(t, k), k) == t.
Tensor unorient(const Tensor& t, int k);

// The mean of unorient(run(orient(x, k)), k) over the 8 orientations, run in k order, or from k = 4 (the
// transposed ones first) with `transposed_first`: alternating that between consecutive tiles keeps runs of one
// shape together for a backend that plans per input shape. Two outputs are held at once, not three. The first
// error of `run` is returned as is.
[[nodiscard]] Result<Tensor> run_with_tta(const Tensor& x, const std::function<Result<Tensor>(const Tensor&)>& run,
                                          bool transposed_first = false);

}  // namespace resr::engine
