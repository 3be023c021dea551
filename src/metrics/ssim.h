// SSIM (Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
// similarity", IEEE TIP 2004) as BasicSR's calculate_ssim computes it:
//   - samples on the 0..255 scale in float64 (16-bit: v / 65535 * 255);
//   - per channel: mu, sigma^2 and sigma_12 by an 11x11 Gaussian window (sigma 1.5, normalised), 'valid' region
//     only (5 pixels lost at each edge), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2; the mean of the SSIM map;
//   - the mean over the colour channels (alpha ignored), or one value on BT.601 luma
//     Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (not rounded) with y_channel (a gray image's of R = G = B);
//     crop_border pixels are removed at each edge first.
//
//   Result<double> s = metrics::ssim(output, reference, {.y_channel = true, .crop_border = 4});  // in (-1, 1]
//
// Colour is compared as PSNR compares it (metrics/colour_pair.h). Errors: sizes differ, or less than 11x11 pixels
// remain after the crop. Identical images give exactly 1. Pure; safe from any thread.
#pragma once

#include "core/status.h"
#include "image/image.h"

namespace resr::metrics {

struct SsimOptions {
  bool y_channel = false;
  int crop_border = 0;
};

inline constexpr int kSsimWindow = 11;

[[nodiscard]] Result<double> ssim(const Image& a, const Image& b, const SsimOptions& options = {});

}  // namespace resr::metrics
