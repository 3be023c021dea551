// MATLAB imresize (bicubic, antialiased), following BasicSR's calculate_weights_indices: per output index, the
// taps floor(u - width / 2) + 0 .. ceil(width) + 1, weights cubic(distance) normalised to sum 1, mirrored edges.
#include "metrics/matlab_imresize.h"

#include <cmath>

#include "core/status.h"

namespace resr::metrics {
namespace {

double cubic(double x) {
  const double ax = std::fabs(x), ax2 = ax * ax, ax3 = ax2 * ax;
  if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
  if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
  return 0;
}

// Half-sample symmetric extension: -1 -> 0, -2 -> 1, n -> n - 1.
int mirror(int i, int n) {
  while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - 1 - i;
  return i;
}

struct Taps {
  int count = 0;               // taps per output sample
  std::vector<int> index;      // out_len * count input indices (0-based, already mirrored)
  std::vector<double> weight;  // out_len * count
};

Taps make_taps(int in_len, int out_len, double scale, bool antialiasing) {
  double width = 4.0;
  const bool stretch = scale < 1 && antialiasing;
  if (stretch) width /= scale;
  Taps t;
  t.count = int(std::ceil(width)) + 2;
  t.index.resize(std::size_t(out_len) * t.count);
  t.weight.resize(std::size_t(out_len) * t.count);
  for (int o = 0; o < out_len; ++o) {
    const double u = (o + 1) / scale + 0.5 * (1 - 1 / scale);  // 1-based position in the input
    const double left = std::floor(u - width / 2);
    double sum = 0;
    for (int k = 0; k < t.count; ++k) {
      const double idx = left + k;
      const double d = u - idx;
      const double w = stretch ? scale * cubic(d * scale) : cubic(d);
      t.index[std::size_t(o) * t.count + k] = mirror(int(idx) - 1, in_len);
      t.weight[std::size_t(o) * t.count + k] = w;
      sum += w;
    }
    for (int k = 0; k < t.count; ++k) t.weight[std::size_t(o) * t.count + k] /= sum;
  }
  return t;
}

}  // namespace

FloatPlane matlab_imresize(const FloatPlane& in, double scale, bool antialiasing) {
  RESR_ASSERT(scale > 0 && in.width > 0 && in.height > 0);
  const int out_w = int(std::ceil(in.width * scale)), out_h = int(std::ceil(in.height * scale));
  const Taps th = make_taps(in.height, out_h, scale, antialiasing);
  const Taps tw = make_taps(in.width, out_w, scale, antialiasing);

  FloatPlane rows(in.width, out_h);  // H pass
#pragma omp parallel for schedule(static)
  for (int o = 0; o < out_h; ++o) {
    std::vector<double> acc(in.width, 0.0);
    for (int k = 0; k < th.count; ++k) {
      const double w = th.weight[std::size_t(o) * th.count + k];
      if (w == 0) continue;
      const float* src = &in.data[std::size_t(th.index[std::size_t(o) * th.count + k]) * in.width];
      for (int x = 0; x < in.width; ++x) acc[x] += w * src[x];
    }
    for (int x = 0; x < in.width; ++x) rows.at(x, o) = float(acc[x]);
  }

  FloatPlane out(out_w, out_h);  // W pass
#pragma omp parallel for schedule(static)
  for (int y = 0; y < out_h; ++y)
    for (int o = 0; o < out_w; ++o) {
      double acc = 0;
      for (int k = 0; k < tw.count; ++k) {
        const double w = tw.weight[std::size_t(o) * tw.count + k];
        if (w != 0) acc += w * rows.at(tw.index[std::size_t(o) * tw.count + k], y);
      }
      out.at(o, y) = float(acc);
    }
  return out;
}

}  // namespace resr::metrics
