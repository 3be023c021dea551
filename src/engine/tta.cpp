#include "engine/tta.h"

#include <cstddef>

namespace resr::engine {
namespace {

// dst(c, y, x) = src(c, source position of (y, x)) for orientation k of src (forward) or its inverse.
Tensor remap(const Tensor& src, int k, bool inverse) {
  const bool transpose = (k & 4) != 0, flip_x = (k & 1) != 0, flip_y = (k & 2) != 0;
  const int c = src.c();
  const int h = transpose ? src.w() : src.h(), w = transpose ? src.h() : src.w();
  Tensor dst(c, h, w);
  const std::size_t sw = std::size_t(src.w()), splane = std::size_t(src.h()) * sw, dplane = std::size_t(h) * w;
  for (int ch = 0; ch < c; ++ch) {
    const float* s = src.data() + ch * splane;
    float* d = dst.data() + ch * dplane;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        int yy = y, xx = x;
        if (!inverse) {  // transposed, then flipped: dst(y, x) = T(src)(yy, xx), yy and xx unflipped
          if (flip_x) xx = w - 1 - x;
          if (flip_y) yy = h - 1 - y;
          d[std::size_t(y) * w + x] = transpose ? s[std::size_t(xx) * sw + yy] : s[std::size_t(yy) * sw + xx];
        } else {
          // src is in orientation k; dst(y, x) is at (x, y) of the transposed frame, then flipped in src's.
          int sy = transpose ? x : y, sx = transpose ? y : x;
          if (flip_x) sx = src.w() - 1 - sx;
          if (flip_y) sy = src.h() - 1 - sy;
          d[std::size_t(y) * w + x] = s[std::size_t(sy) * sw + sx];
        }
      }
    }
  }
  return dst;
}

}  // namespace

Tensor orient(const Tensor& t, int k) {
  return remap(t, k, false);
}

Tensor unorient(const Tensor& t, int k) {
  return remap(t, k, true);
}

Result<Tensor> run_with_tta(const Tensor& x, const std::function<Result<Tensor>(const Tensor&)>& run) {
  Tensor sum;
  for (int k = 0; k < kOrientations; ++k) {
    RESR_ASSIGN_OR_RETURN(Tensor y, run(orient(x, k)));
    const Tensor back = unorient(y, k);
    if (k == 0) {
      sum = back;
      continue;
    }
    if (back.c() != sum.c() || back.h() != sum.h() || back.w() != sum.w())
      return Status::error("the model's output changes shape with the input's orientation");
    float* s = sum.data();
    const float* b = back.data();
    for (std::size_t i = 0; i < std::size_t(sum.numel()); ++i) s[i] += b[i];
  }
  for (std::size_t i = 0; i < std::size_t(sum.numel()); ++i) sum.data()[i] *= 1.0f / kOrientations;
  return sum;
}

}  // namespace resr::engine
