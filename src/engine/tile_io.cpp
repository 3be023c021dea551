#include "engine/tile_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/gray_from_rgb.h"

namespace resr::engine {
namespace {

float read_sample(const Image& img, std::size_t i) {
  return img.bits == 16 ? float(img.sample16(i)) / 65535.0f : float(img.bytes[i]) / 255.0f;
}

void write_sample(Image& img, std::size_t i, float v) {
  v = clamped_unit(v);
  if (img.bits == 16) {
    const auto q = static_cast<std::uint16_t>(std::lround(v * 65535.0f));
    std::memcpy(img.bytes.data() + 2 * i, &q, 2);
  } else {
    img.bytes[i] = static_cast<std::uint8_t>(std::lround(v * 255.0f));
  }
}

}  // namespace

Tensor image_region_to_tensor(const Image& img, tiling::Rect r, bool alpha_as_rgb) {
  Tensor t(3, r.h, r.w);
  const int ch = img.channels;
  const bool gray = ch <= 2;
  for (int y = 0; y < r.h; ++y) {
    for (int x = 0; x < r.w; ++x) {
      const std::size_t base = (std::size_t(r.y + y) * img.width + (r.x + x)) * ch;
      for (int c = 0; c < 3; ++c) {
        const int src = alpha_as_rgb ? ch - 1 : (gray ? 0 : c);
        t.at(c, y, x) = read_sample(img, base + src);
      }
    }
  }
  return t;
}

void paste_tensor_region(const Tensor& rgb, const Tensor* alpha_rgb, tiling::Rect src, Image& dst, int dx, int dy) {
  const int ch = dst.channels;
  const bool gray = ch <= 2;
  for (int y = 0; y < src.h; ++y) {
    for (int x = 0; x < src.w; ++x) {
      const int sy = src.y + y, sx = src.x + x;
      const std::size_t base = (std::size_t(dy + y) * dst.width + (dx + x)) * ch;
      if (gray) {
        write_sample(dst, base, gray_from_rgb(rgb.at(0, sy, sx), rgb.at(1, sy, sx), rgb.at(2, sy, sx)));
      } else {
        for (int c = 0; c < 3; ++c) write_sample(dst, base + c, rgb.at(c, sy, sx));
      }
      if (alpha_rgb != nullptr && dst.has_alpha()) {
        const Tensor& a = *alpha_rgb;
        write_sample(dst, base + ch - 1, gray_from_rgb(a.at(0, sy, sx), a.at(1, sy, sx), a.at(2, sy, sx)));
      }
    }
  }
}

}  // namespace resr::engine
