#include "backends/cpu/padded_ops.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/fp8.h"
#include "core/gray_from_rgb.h"

namespace resr::cpu {
namespace {

// Zeroes everything of plane `p` except the interior (ring columns, top/bottom rows, slack).
void zero_outside_interior(float* p, const PaddedGeometry& g) {
  const std::size_t pitch = g.pitch();
  std::fill(p, p + pitch, 0.0f);
  for (int y = 1; y <= g.h; ++y) {
    p[y * pitch] = 0.0f;
    p[y * pitch + pitch - 1] = 0.0f;
  }
  std::fill(p + (g.h + 1) * pitch, p + g.plane_stride(), 0.0f);
}

}  // namespace

void tensor_to_padded(const Tensor& in, const PaddedPlanes& out) {
  const PaddedGeometry& g = out.geo;
#pragma omp parallel for
  for (int c = 0; c < in.c(); ++c) {
    float* p = out.plane(c);
    zero_outside_interior(p, g);
    for (int y = 0; y < g.h; ++y)
      std::memcpy(p + g.origin() + std::size_t(y) * g.pitch(), in.plane(c) + std::size_t(y) * g.w, g.w * sizeof(float));
  }
}

void pixels_to_padded(const PixelRect& in, const PaddedPlanes& out) {
  const PaddedGeometry& g = out.geo;
  const float full = in.bits == 16 ? 65535.0f : 255.0f;  // divided, not multiplied by 1/full: the same floats
  const int step = in.channels;
#pragma omp parallel for
  for (int c = 0; c < out.channels; ++c) {
    float* p = out.plane(c);
    zero_outside_interior(p, g);
    const int sample = in.channels >= 3 ? c : 0;
    for (int y = 0; y < g.h; ++y) {
      const std::uint8_t* row = in.data + std::size_t(y) * in.row_bytes;
      float* dst = p + g.origin() + std::size_t(y) * g.pitch();
      if (in.bits == 16) {
        for (int x = 0; x < g.w; ++x) {
          std::uint16_t v = 0;
          std::memcpy(&v, row + (std::size_t(x) * step + sample) * 2, 2);
          dst[x] = float(v) / full;
        }
      } else {
        for (int x = 0; x < g.w; ++x) dst[x] = float(row[std::size_t(x) * step + sample]) / full;
      }
    }
  }
}

void padded_to_pixels(const PaddedPlanes& in, int x0, int y0, const PixelWindow& out) {
  const PaddedGeometry& g = in.geo;
  const int bytes = out.bits / 8;
  const bool gray = out.channels < 3;
#pragma omp parallel for
  for (int y = 0; y < out.height; ++y) {
    const std::size_t at = g.origin() + std::size_t(y0 + y) * g.pitch() + x0;
    const float* r = in.plane(0) + at;
    const float* gr = in.plane(1) + at;
    const float* b = in.plane(2) + at;
    std::uint8_t* row = out.data + std::size_t(y) * out.row_bytes;
    for (int x = 0; x < out.width; ++x) {
      for (int k = 0; k < (gray ? 1 : 3); ++k) {
        const float v = gray ? gray_from_rgb(r[x], gr[x], b[x]) : (k == 0 ? r[x] : k == 1 ? gr[x] : b[x]);
        const unsigned q = sample_from_unit(v, out.bits);
        std::uint8_t* s = row + (std::size_t(x) * out.channels + k) * bytes;
        s[0] = static_cast<std::uint8_t>(q & 0xffu);
        if (bytes == 2) s[1] = static_cast<std::uint8_t>(q >> 8);
      }
    }
  }
}

Tensor padded_to_tensor(const PaddedPlanes& in) {
  const PaddedGeometry& g = in.geo;
  Tensor out = Tensor::uninitialized(Shape{in.channels, g.h, g.w});  // every element is copied below
#pragma omp parallel for
  for (int c = 0; c < in.channels; ++c)
    for (int y = 0; y < g.h; ++y)
      std::memcpy(out.plane(c) + std::size_t(y) * g.w, in.plane(c) + g.origin() + std::size_t(y) * g.pitch(),
                  g.w * sizeof(float));
  return out;
}

void weighted_sum_padded(std::span<const PaddedPlanes> inputs, std::span<const float> coeffs, const PaddedPlanes& out) {
  // Rings are zero in every input, so the whole plane can be summed; only the slack needs clearing.
  const std::size_t n = std::size_t(out.geo.h + 2) * out.geo.pitch();
  const std::size_t stride = out.geo.plane_stride();
#pragma omp parallel for
  for (int c = 0; c < out.channels; ++c) {
    float* o = out.plane(c);
    const float* a = inputs[0].plane(c);
    const float ca = coeffs[0];
    const float* b = inputs[1].plane(c);
    const float cb = coeffs[1];
    for (std::size_t i = 0; i < n; ++i) o[i] = ca * a[i] + cb * b[i];
    for (std::size_t k = 2; k < inputs.size(); ++k) {
      const float* x = inputs[k].plane(c);
      const float ck = coeffs[k];
      for (std::size_t i = 0; i < n; ++i) o[i] += ck * x[i];
    }
    std::fill(o + n, o + stride, 0.0f);
  }
}

void prelu_padded(const PaddedPlanes& in, std::span<const float> slopes, const PaddedPlanes& out) {
  const std::size_t n = std::size_t(in.geo.h + 2) * in.geo.pitch();
  const std::size_t stride = in.geo.plane_stride();
#pragma omp parallel for
  for (int c = 0; c < in.channels; ++c) {
    const float s = slopes.size() == 1 ? slopes[0] : slopes[c];
    const float* x = in.plane(c);
    float* o = out.plane(c);
    for (std::size_t i = 0; i < n; ++i) o[i] = x[i] >= 0 ? x[i] : s * x[i];
    std::fill(o + n, o + stride, 0.0f);
  }
}

void copy_padded(const PaddedPlanes& in, const PaddedPlanes& out) {
  const std::size_t n = std::size_t(in.geo.h + 2) * in.geo.pitch();
#pragma omp parallel for
  for (int c = 0; c < in.channels; ++c) {
    std::memcpy(out.plane(c), in.plane(c), n * sizeof(float));
    std::fill(out.plane(c) + n, out.plane(c) + out.geo.plane_stride(), 0.0f);
  }
}

void round_to_e4m3_padded(const PaddedPlanes& in, float scale, const PaddedPlanes& out) {
  const std::size_t n = std::size_t(in.geo.h + 2) * in.geo.pitch();
#pragma omp parallel for
  for (int c = 0; c < in.channels; ++c) {
    const float* src = in.plane(c);
    float* dst = out.plane(c);
    // round_to_e4m3(0) is 0, so the ring stays zero. A division, as in the reference, so that ties round alike.
#pragma omp simd
    for (std::size_t k = 0; k < n; ++k) dst[k] = round_to_e4m3(src[k] / scale) * scale;
    std::fill(dst + n, dst + out.geo.plane_stride(), 0.0f);
  }
}

void upsample_nearest_padded(const PaddedPlanes& in, int factor, const PaddedPlanes& out) {
  const PaddedGeometry& gi = in.geo;
  const PaddedGeometry& go = out.geo;
#pragma omp parallel for
  for (int c = 0; c < in.channels; ++c) {
    float* o = out.plane(c);
    zero_outside_interior(o, go);
    const float* x = in.plane(c) + gi.origin();
    for (int y = 0; y < go.h; ++y) {
      float* dst = o + go.origin() + std::size_t(y) * go.pitch();
      if (y % factor != 0) {  // the rows of one source row are equal: copy the first
        std::memcpy(dst, dst - go.pitch(), std::size_t(go.w) * sizeof(float));
        continue;
      }
      const float* src = x + std::size_t(y / factor) * gi.pitch();
      for (int xi = 0; xi < gi.w; ++xi)
        for (int k = 0; k < factor; ++k) dst[xi * factor + k] = src[xi];
    }
  }
}

namespace {

// The pixel shuffle loop nest ([c*r*r, h, w] -> [c, h*r, w*r], PyTorch order), with each output value computed
// as value(src, c, row, x) from src = the source plane's row (y / r) and row = that row's offset in a plane.
template <class Value>
void shuffle_padded(const PaddedPlanes& in, int r, const PaddedPlanes& out, Value value) {
  const PaddedGeometry& gi = in.geo;
  const PaddedGeometry& go = out.geo;
#pragma omp parallel for
  for (int c = 0; c < out.channels; ++c) {
    float* o = out.plane(c);
    zero_outside_interior(o, go);
    for (int y = 0; y < go.h; ++y) {
      const std::size_t row = gi.origin() + std::size_t(y / r) * gi.pitch();
      float* dst = o + go.origin() + std::size_t(y) * go.pitch();
      for (int j = 0; j < r; ++j) {
        const float* src = in.plane(c * r * r + (y % r) * r + j) + row;
        for (int x = 0; x < gi.w; ++x) dst[x * r + j] = value(src, c, row, x);
      }
    }
  }
}

}  // namespace

void pixel_shuffle_padded(const PaddedPlanes& in, int r, const PaddedPlanes& out) {
  shuffle_padded(in, r, out, [](const float* src, int, std::size_t, int x) { return src[x]; });
}

void shuffle_add_upsampled_padded(const PaddedPlanes& x, float a, const PaddedPlanes& base, float b, int r,
                                  const PaddedPlanes& out) {
  shuffle_padded(x, r, out, [&](const float* src, int c, std::size_t row, int i) {
    return a * src[i] + b * base.plane(c)[row + i];
  });
}

void pixel_unshuffle_padded(const PaddedPlanes& in, int r, const PaddedPlanes& out) {
  const PaddedGeometry& gi = in.geo;
  const PaddedGeometry& go = out.geo;
#pragma omp parallel for
  for (int co = 0; co < out.channels; ++co) {
    const int c = co / (r * r), i = (co / r) % r, j = co % r;
    float* o = out.plane(co);
    zero_outside_interior(o, go);
    for (int y = 0; y < go.h; ++y) {
      const float* src = in.plane(c) + gi.origin() + std::size_t(y * r + i) * gi.pitch() + j;
      float* dst = o + go.origin() + std::size_t(y) * go.pitch();
      for (int x = 0; x < go.w; ++x) dst[x] = src[x * r];
    }
  }
}

}  // namespace resr::cpu
