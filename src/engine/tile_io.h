// Moving pixels between an Image (8/16-bit, 1-4 channels) and the float tensors the model takes, one
// rectangle at a time, so that no whole-image float copy ever exists (memory bounded by the tile).
#pragma once

#include "core/tensor.h"
#include "image/image.h"
#include "tiling/tile_plan.h"

namespace resr::engine {

// 3 x r.h x r.w in [0,1]; gray is replicated to three planes. `alpha_as_rgb`: the alpha channel instead,
// replicated to three planes (how the model upscales alpha).
Tensor image_region_to_tensor(const Image& img, tiling::Rect r, bool alpha_as_rgb = false);

// Writes `src` (a rectangle of the model output `rgb`, and of `alpha_rgb` when the image has alpha) into
// `dst` at (dx, dy): clamped to [0,1], scaled to dst.bits, rounded; gray and alpha (from the alpha output's planes)
// = gray_from_rgb (core/gray_from_rgb.h: BT.601 luma of the clamped planes, as Real-ESRGAN). alpha_rgb may be null
// (alpha left as is).
void paste_tensor_region(const Tensor& rgb, const Tensor* alpha_rgb, tiling::Rect src, Image& dst, int dx, int dy);

}  // namespace resr::engine
