// resr image quality measures as a C++ library: what `resr eval` computes, on decoded images (8 or 16 bits,
// gray/RGB with or without alpha; see docs/metrics.md).
//
//   #include <resr/metrics.h>
//   resr::Result<double> q = resr::niqe(image);                     // no reference; lower is better
//   resr::Result<double> p = resr::psnr(output, reference, {.y_channel = true, .crop_border = 4});  // dB
//   resr::Result<double> s = resr::ssim(output, reference);         // in (-1, 1]
//
// NIQE matches BasicSR's calculate_niqe; PSNR and SSIM are BasicSR's definitions, computed in floating point.
// Errors (one line): images of different sizes or channel counts, or too small to measure.
#pragma once

#include "core/status.h"
#include "image/image.h"

namespace resr {

struct QualityOptions {
  bool y_channel = false;  // BT.601 luma of RGB instead of every colour channel (gray images: their channel)
  int crop_border = 0;     // pixels left out at each edge
};

[[nodiscard]] Result<double> niqe(const Image& image);
// Identical images give +infinity.
[[nodiscard]] Result<double> psnr(const Image& image, const Image& reference, const QualityOptions& options = {});
// Identical images give exactly 1.
[[nodiscard]] Result<double> ssim(const Image& image, const Image& reference, const QualityOptions& options = {});

}  // namespace resr
