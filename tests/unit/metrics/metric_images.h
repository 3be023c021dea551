// Test helpers for metrics/: small synthetic images.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>

#include "image/image.h"

namespace resr::testing {

// A width x height image with every sample set to `value` (8-bit, or 16-bit with `value` as the raw sample).
inline Image flat_image(int width, int height, int channels, int value, int bits = 8) {
  Image img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.bits = bits;
  img.bytes.resize(img.sample_count() * std::size_t(bits / 8));
  for (std::size_t i = 0; i < img.sample_count(); ++i) {
    if (bits == 8) {
      img.bytes[i] = std::uint8_t(value);
    } else {
      const auto v = std::uint16_t(value);
      std::memcpy(img.bytes.data() + 2 * i, &v, 2);
    }
  }
  return img;
}

// 8-bit noise over a smooth pattern: textured enough for NIQE, deterministic for a seed.
inline Image textured_image(int width, int height, int channels, std::uint32_t seed = 1) {
  Image img = flat_image(width, height, channels, 0);
  std::mt19937 rng(seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        const int base = 128 + int(60 * ((x / 7 + y / 5 + c) % 3 - 1)) + (x * 3 + y * 2) % 31;
        const int v = base + int(rng() % 41) - 20;
        img.bytes[(std::size_t(y) * width + x) * channels + c] = std::uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
      }
  return img;
}

}  // namespace resr::testing
