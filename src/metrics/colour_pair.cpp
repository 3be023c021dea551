#include "metrics/colour_pair.h"

#include <cstring>

namespace resr::metrics {
namespace {

// Gray (+alpha) as RGB, alpha dropped: each pixel's one sample three times.
Image gray_as_rgb(const Image& gray) {
  Image rgb;
  rgb.width = gray.width;
  rgb.height = gray.height;
  rgb.channels = 3;
  rgb.bits = gray.bits;
  const std::size_t bytes = std::size_t(gray.bits / 8);
  const std::size_t pixels = std::size_t(gray.width) * std::size_t(gray.height);
  rgb.bytes.resize(pixels * 3 * bytes);
  for (std::size_t i = 0; i < pixels; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      std::memcpy(rgb.bytes.data() + (i * 3 + c) * bytes, gray.bytes.data() + i * std::size_t(gray.channels) * bytes,
                  bytes);
  return rgb;
}

}  // namespace

ColourPair::ColourPair(const Image& a, const Image& b, bool luma) : a_(a), b_(b) {
  if (colour_channels(a) == 1 && (luma || colour_channels(b) == 3)) a_rgb_ = gray_as_rgb(a);
  if (colour_channels(b) == 1 && (luma || colour_channels(a) == 3)) b_rgb_ = gray_as_rgb(b);
}

}  // namespace resr::metrics
