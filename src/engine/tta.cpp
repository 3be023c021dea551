#include "engine/tta.h"

#include <cstddef>

namespace resr::engine {
namespace {

// Orientation k as index maps. For a tensor in orientation k (rows kh x cols kw) of an original of rows h x cols w:
// element (y, x) of the original is element at(y, x) of the oriented one.
struct Orientation {
  bool transpose, flip_x, flip_y;
  int kh, kw;  // the oriented tensor's rows and columns
  explicit Orientation(int k, int h, int w)
      : transpose((k & 4) != 0),
        flip_x((k & 1) != 0),
        flip_y((k & 2) != 0),
        kh(transpose ? w : h),
        kw(transpose ? h : w) {}
  // Transposed first, then flipped within the oriented frame.
  std::size_t at(int y, int x) const {
    int oy = transpose ? x : y, ox = transpose ? y : x;
    if (flip_x) ox = kw - 1 - ox;
    if (flip_y) oy = kh - 1 - oy;
    return std::size_t(oy) * kw + ox;
  }
};

// op(original element, oriented element) over every element; `h` x `w` is the original's size.
template <class Op>
void for_each_pair(int c, int h, int w, const Orientation& o, Op op) {
  const std::size_t plane = std::size_t(h) * w;
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) op(ch * plane + std::size_t(y) * w + x, ch * plane + o.at(y, x));
}

}  // namespace

Tensor orient(const Tensor& t, int k) {
  const Orientation o(k, t.h(), t.w());
  Tensor out(t.c(), o.kh, o.kw);
  for_each_pair(t.c(), t.h(), t.w(), o, [&](std::size_t i, std::size_t j) { out.data()[j] = t.data()[i]; });
  return out;
}

Tensor unorient(const Tensor& t, int k) {
  // t is in orientation k of an original of t.w() x t.h() when k transposes.
  const int h = (k & 4) != 0 ? t.w() : t.h(), w = (k & 4) != 0 ? t.h() : t.w();
  const Orientation o(k, h, w);
  Tensor out(t.c(), h, w);
  for_each_pair(t.c(), h, w, o, [&](std::size_t i, std::size_t j) { out.data()[i] = t.data()[j]; });
  return out;
}

Result<Tensor> run_with_tta(const Tensor& x, const std::function<Result<Tensor>(const Tensor&)>& run,
                            bool transposed_first) {
  // Two outputs at most are alive at once: the sum (the identity's output, moved) and the current run's, added
  // in through the index map without a turned-back copy.
  Tensor sum;
  for (int n = 0; n < kOrientations; ++n) {
    const int k = (n + (transposed_first ? 4 : 0)) % kOrientations;
    RESR_ASSIGN_OR_RETURN(Tensor y, run(k == 0 ? x : orient(x, k)));
    if (n == 0) {  // the first output, turned back, becomes the sum (the identity's is moved)
      sum = k == 0 ? std::move(y) : unorient(y, k);
      continue;
    }
    const bool t = (k & 4) != 0;
    if (y.c() != sum.c() || (t ? y.w() : y.h()) != sum.h() || (t ? y.h() : y.w()) != sum.w())
      return Status::error("the model's output changes shape with the input's orientation");
    const Orientation o(k, sum.h(), sum.w());
    float* s = sum.data();
    const float* v = y.data();
    for_each_pair(sum.c(), sum.h(), sum.w(), o, [&](std::size_t i, std::size_t j) { s[i] += v[j]; });
  }
  for (std::size_t i = 0; i < std::size_t(sum.numel()); ++i) sum.data()[i] *= 1.0f / kOrientations;
  return sum;
}

}  // namespace resr::engine
