// Conversion between Image (interleaved 8/16-bit samples) and float Tensor planes in [0, 1], the model's range.
//
//   Tensor rgb = image_rgb_to_tensor(img);                              // 3 x H x W
//   Tensor a;  if (img.has_alpha()) a = image_alpha_to_tensor(img);     // 1 x H x W
//   ... upscale rgb (and a) ...
//   Image out = tensor_to_image(up_rgb, img.has_alpha() ? &up_a : nullptr, img.channels, img.bits);
//
// Samples map as v / 255 (8-bit) or v / 65535 (16-bit); back, values are clamped to [0, 1] (NaN -> 0), scaled
// and rounded to nearest. Preconditions (checked with RESR_ASSERT: they are programming errors, not bad input):
// a consistent Image (as produced by the codecs), tensor shapes as stated, out_channels 1..4, bits 8 or 16.
// Pure functions; safe to call from any thread.
#pragma once

#include "core/tensor.h"
#include "image/image.h"

namespace resr {

// 3 x H x W; a gray image (1 or 2 channels) is replicated into all three planes. Alpha is ignored.
Tensor image_rgb_to_tensor(const Image& image);

// 1 x H x W alpha plane. Precondition: image.has_alpha().
Tensor image_alpha_to_tensor(const Image& image);

// Builds an Image of `out_channels` (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) at `bits` (8 or 16) from a 3 x H x W
// `rgb` tensor and an optional 1 x H x W `alpha`. For gray output the value is gray_from_rgb of the three planes
// (core/gray_from_rgb.h: the model only sees RGB, and Real-ESRGAN returns its output to gray with BT.601 luma).
// For 2 or 4 channels the alpha plane is used when given; with alpha == nullptr the output is opaque.
Image tensor_to_image(const Tensor& rgb, const Tensor* alpha, int out_channels, int bits);

}  // namespace resr
