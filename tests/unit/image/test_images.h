// Test helpers for image/: deterministic synthetic images.
#pragma once

#include <cstdint>
#include <cstring>

#include "image/image.h"

namespace resr::testing {

// A width x height image whose samples follow a smooth gradient plus a little hash noise (so codecs have real
// work, and lossy ones stay close). Alpha channels get a distinct pattern including fully transparent pixels.
// An all-zero image of the given layout.
inline Image blank(int width, int height, int channels, int bits) {
  Image img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.bits = bits;
  img.bytes.assign(img.sample_count() * std::size_t(bits / 8), 0);
  return img;
}

inline Image make_image(int width, int height, int channels, int bits, std::uint32_t seed = 1) {
  Image img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.bits = bits;
  img.bytes.resize(img.sample_count() * std::size_t(bits / 8));
  std::uint32_t max = bits == 16 ? 65535u : 255u;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        std::uint32_t h = (std::uint32_t(x) * 73856093u) ^ (std::uint32_t(y) * 19349663u) ^ (c * 83492791u) ^ seed;
        h = (h ^ (h >> 13)) * 0x5bd1e995u;
        std::uint32_t noise = (h >> 24) % 8;
        std::uint32_t base =
            (std::uint32_t(x * 255 / (width > 1 ? width - 1 : 1)) + std::uint32_t(y * 3) + c * 40) % 240;
        std::uint32_t v8 = base + noise;
        bool alpha = (channels == 2 || channels == 4) && c == channels - 1;
        if (alpha) v8 = (x + y) % 7 == 0 ? 0 : (x * 11 + y * 5) % 256;
        std::uint32_t v = bits == 16 ? v8 * 257u + (h >> 16) % 200 : v8;
        if (v > max) v = max;
        std::size_t i = (std::size_t(y) * width + x) * channels + c;
        if (bits == 8) {
          img.bytes[i] = std::uint8_t(v);
        } else {
          auto v16 = std::uint16_t(v);
          std::memcpy(img.bytes.data() + 2 * i, &v16, 2);
        }
      }
    }
  }
  return img;
}

}  // namespace resr::testing
