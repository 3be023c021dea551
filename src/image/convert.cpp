#include "image/convert.h"

#include <cstring>

#include "core/gray_from_rgb.h"
#include "core/status.h"

namespace resr {
namespace {

float max_value(int bits) {
  return bits == 16 ? 65535.0f : 255.0f;
}

// Reads sample i of either depth as an integer.
std::uint32_t sample(const Image& image, std::size_t i) {
  return image.bits == 16 ? image.sample16(i) : image.bytes[i];
}

void check_image(const Image& image) {
  RESR_ASSERT(image.channels >= 1 && image.channels <= 4);
  RESR_ASSERT(image.bits == 8 || image.bits == 16);
  RESR_ASSERT(image.width >= 0 && image.height >= 0);
  RESR_ASSERT(image.bytes.size() == image.sample_count() * std::size_t(image.bits / 8));
}

// Fills `plane` with channel `channel` of every pixel, scaled to [0, 1].
void extract_plane(const Image& image, int channel, float* plane) {
  std::size_t pixels = std::size_t(image.width) * image.height;
  float scale = 1.0f / max_value(image.bits);
  if (image.bits == 8) {
    float lut[256];  // one multiply per possible value instead of per sample
    for (int v = 0; v < 256; ++v) lut[v] = float(v) * scale;
    for (std::size_t p = 0; p < pixels; ++p) plane[p] = lut[image.bytes[p * image.channels + channel]];
  } else {
    for (std::size_t p = 0; p < pixels; ++p) plane[p] = float(sample(image, p * image.channels + channel)) * scale;
  }
}

// [0, 1] -> [0, max] rounded to nearest; NaN and out-of-range values clamp (the comparisons are false for NaN).
std::uint32_t quantize(float v, float max) {
  const float c = clamped_unit(v);
  // Round half up of a value in [0, max]; the float sum also rounds up values within 2^-24 below a half.
  return static_cast<std::uint32_t>(c * max + 0.5f);  // NOLINT(bugprone-incorrect-roundings)
}

}  // namespace

Tensor image_rgb_to_tensor(const Image& image) {
  check_image(image);
  Tensor t(3, image.height, image.width);
  bool gray = image.channels <= 2;
  for (int c = 0; c < 3; ++c) extract_plane(image, gray ? 0 : c, t.plane(c));
  return t;
}

Tensor image_alpha_to_tensor(const Image& image) {
  check_image(image);
  RESR_ASSERT(image.has_alpha());
  Tensor t(1, image.height, image.width);
  extract_plane(image, image.channels - 1, t.plane(0));
  return t;
}

Image tensor_to_image(const Tensor& rgb, const Tensor* alpha, int out_channels, int bits) {
  RESR_ASSERT(rgb.c() == 3);
  RESR_ASSERT(out_channels >= 1 && out_channels <= 4);
  RESR_ASSERT(bits == 8 || bits == 16);
  bool want_alpha = out_channels == 2 || out_channels == 4;
  if (want_alpha && alpha) RESR_ASSERT(alpha->c() == 1 && alpha->h() == rgb.h() && alpha->w() == rgb.w());

  Image image;
  image.width = rgb.w();
  image.height = rgb.h();
  image.channels = out_channels;
  image.bits = bits;
  image.bytes.resize(image.sample_count() * std::size_t(bits / 8));
  float max = max_value(bits);
  std::size_t pixels = std::size_t(image.width) * image.height;
  const float* r = rgb.plane(0);
  const float* g = rgb.plane(1);
  const float* b = rgb.plane(2);
  const float* a = want_alpha && alpha ? alpha->plane(0) : nullptr;
  int color_channels = want_alpha ? out_channels - 1 : out_channels;

  auto store = [&](std::size_t i, std::uint32_t v) {
    if (bits == 8) {
      image.bytes[i] = static_cast<std::uint8_t>(v);
    } else {
      auto v16 = static_cast<std::uint16_t>(v);
      std::memcpy(image.bytes.data() + 2 * i, &v16, sizeof v16);
    }
  };
  for (std::size_t p = 0; p < pixels; ++p) {
    std::size_t base = p * out_channels;
    if (color_channels == 1) {
      store(base, quantize(gray_from_rgb(r[p], g[p], b[p]), max));
    } else {
      store(base, quantize(r[p], max));
      store(base + 1, quantize(g[p], max));
      store(base + 2, quantize(b[p], max));
    }
    if (want_alpha) store(base + color_channels, a ? quantize(a[p], max) : std::uint32_t(max));
  }
  return image;
}

}  // namespace resr
