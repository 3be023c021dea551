#include "engine/tile_io.h"

#include <algorithm>
#include <cstdint>

#include "core/gray_from_rgb.h"

namespace resr::engine {
namespace {

float read_sample(const Image& img, std::size_t i) {
  return img.bits == 16 ? float(img.sample16(i)) / 65535.0f : float(img.bytes[i]) / 255.0f;
}

// One sample of kBytes (8 or 16 bits; 16-bit little-endian, as Image keeps them on these hosts).
template <int kBytes>
void put_sample(std::uint8_t* p, float v) {
  const unsigned q = sample_from_unit(v, kBytes * 8);
  p[0] = static_cast<std::uint8_t>(q & 0xffu);
  if constexpr (kBytes == 2) p[1] = static_cast<std::uint8_t>(q >> 8);
}

// paste_tensor_region's rows, with plane pointers and the sample size fixed, so that the per-sample work is the
// rounding alone (an index computation and a libm call per sample took 61 ms for a 2040x1632 output).
template <int kBytes>
void paste_rows(const Tensor& rgb, const Tensor* alpha_rgb, tiling::Rect src, Image& dst, int dx, int dy) {
  const int ch = dst.channels;
  const bool gray = ch <= 2;
  const bool alpha = alpha_rgb != nullptr && dst.has_alpha();
  const std::size_t step = std::size_t(ch) * kBytes;
  for (int y = 0; y < src.h; ++y) {
    const int sy = src.y + y;
    const std::size_t at = std::size_t(sy) * rgb.w() + src.x;
    const float* r = rgb.plane(0) + at;
    const float* g = rgb.plane(1) + at;
    const float* b = rgb.plane(2) + at;
    std::uint8_t* out = dst.bytes.data() + (std::size_t(dy + y) * dst.width + dx) * step;
    if (gray) {
      for (int x = 0; x < src.w; ++x) put_sample<kBytes>(out + x * step, gray_from_rgb(r[x], g[x], b[x]));
    } else {
      for (int x = 0; x < src.w; ++x) {
        put_sample<kBytes>(out + x * step, r[x]);
        put_sample<kBytes>(out + x * step + kBytes, g[x]);
        put_sample<kBytes>(out + x * step + 2 * kBytes, b[x]);
      }
    }
    if (alpha) {
      const std::size_t a_at = std::size_t(sy) * alpha_rgb->w() + src.x;
      const float* ar = alpha_rgb->plane(0) + a_at;
      const float* ag = alpha_rgb->plane(1) + a_at;
      const float* ab = alpha_rgb->plane(2) + a_at;
      std::uint8_t* a = out + std::size_t(ch - 1) * kBytes;
      for (int x = 0; x < src.w; ++x) put_sample<kBytes>(a + x * step, gray_from_rgb(ar[x], ag[x], ab[x]));
    }
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
  if (dst.bits == 16)
    paste_rows<2>(rgb, alpha_rgb, src, dst, dx, dy);
  else
    paste_rows<1>(rgb, alpha_rgb, src, dst, dx, dy);
}

}  // namespace resr::engine
