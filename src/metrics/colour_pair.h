// The two images a full-reference metric (PSNR, SSIM) compares, as it compares them: colour only, so alpha is not
// measured and RGB pairs with RGBA, gray with gray+alpha; a gray image beside an RGB one as RGB (r = g = b), as
// BasicSR's metrics see both after cv2.imread(IMREAD_COLOR) ("channel counts differ" was the error for each); and
// for luma (Y) every gray image as RGB, so that its Y is BT.601's of R = G = B whatever it is paired with (a gray
// pair used the raw sample, 1.32 dB off the same content beside its RGB form).
#pragma once

#include "image/image.h"

namespace resr::metrics {

// Colour samples of an image: 3 for RGB(A), 1 for gray (+alpha).
inline int colour_channels(const Image& image) {
  return image.channels >= 3 ? 3 : 1;
}

class ColourPair {
 public:
  // Copies a gray image paired with an RGB one, or any gray one for `luma` (its RGB form); the images must outlive
  // the pair.
  ColourPair(const Image& a, const Image& b, bool luma);
  ColourPair(const ColourPair&) = delete;
  ColourPair& operator=(const ColourPair&) = delete;

  const Image& a() const { return a_rgb_.channels != 0 ? a_rgb_ : a_; }
  const Image& b() const { return b_rgb_.channels != 0 ? b_rgb_ : b_; }
  int colours() const { return colour_channels(a()); }  // the same for both

 private:
  const Image& a_;
  const Image& b_;
  Image a_rgb_, b_rgb_;  // empty unless made
};

}  // namespace resr::metrics
