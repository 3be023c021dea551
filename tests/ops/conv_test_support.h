// Shared by the conv kernel tests: random data, a naive double-precision CHW reference convolution, per-shape
// cached cases (the reference is computed once per shape, not once per test), and loading CHW data into
// PaddedPlanes with a chosen filler outside the interior.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "backends/cpu/padded_planes.h"

namespace resr::cpu::test {

inline std::vector<float> random_vec(std::size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Plain CHW zero-padded 3x3 convolution in double, no bias / epilogue.
inline std::vector<double> conv_ref(const std::vector<float>& in, const std::vector<float>& wt, int ic, int oc, int h,
                                    int w) {
  std::vector<double> out(std::size_t(oc) * h * w, 0.0);
  for (int o = 0; o < oc; ++o) {
    double* dst = out.data() + std::size_t(o) * h * w;
    for (int i = 0; i < ic; ++i) {
      const float* src = in.data() + std::size_t(i) * h * w;
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          const double k = wt[((std::size_t(o) * ic + i) * 3 + ky) * 3 + kx];
          for (int y = std::max(0, 1 - ky); y < std::min(h, h + 1 - ky); ++y) {
            const float* s = src + std::size_t(y + ky - 1) * w + (kx - 1);
            double* d = dst + std::size_t(y) * w;
            for (int x = std::max(0, 1 - kx); x < std::min(w, w + 1 - kx); ++x) d[x] += k * s[x];
          }
        }
      }
    }
  }
  return out;
}

// Inputs, weights and the raw reference conv of one shape, shared by every epilogue and kernel.
struct Case {
  std::vector<float> in, wt, bias, slopes, res;
  std::vector<double> conv;
};

inline const Case& get_case(int ic, int oc, int h, int w, unsigned seed) {
  static std::map<std::tuple<int, int, int, int, unsigned>, Case> cache;
  const auto key = std::make_tuple(ic, oc, h, w, seed);
  const auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::mt19937 rng(seed + ic * 7 + oc * 13 + h * 17 + w * 19);
  const float wscale = 1.7f / std::sqrt(float(ic * 9));
  Case c;
  c.in = random_vec(std::size_t(ic) * h * w, -1.0f, 1.0f, rng);
  c.wt = random_vec(std::size_t(oc) * ic * 9, -wscale, wscale, rng);
  c.bias = random_vec(oc, -0.5f, 0.5f, rng);
  c.slopes = random_vec(oc, 0.0f, 0.5f, rng);
  c.res = random_vec(std::size_t(oc) * h * w, -1.0f, 1.0f, rng);
  c.conv = conv_ref(c.in, c.wt, ic, oc, h, w);
  return cache.emplace(key, std::move(c)).first->second;
}

// Copies CHW data into planes [first, first + c) of `p`, ring zero; everything else of those planes = filler.
inline void fill_planes(const PaddedPlanes& p, int first, const std::vector<float>& chw, int c, float filler) {
  const int h = p.geo.h, w = p.geo.w, pitch = p.geo.pitch();
  for (int ch = 0; ch < c; ++ch) {
    float* d = p.plane(first + ch);
    for (std::size_t k = 0; k < p.geo.plane_stride(); ++k) d[k] = filler;
    for (int y = 0; y < h + 2; ++y) {
      for (int x = 0; x < pitch; ++x) {
        const bool interior = y >= 1 && y <= h && x >= 1 && x <= w;
        d[y * pitch + x] = interior ? chw[(std::size_t(ch) * h + y - 1) * w + x - 1] : 0.0f;
      }
    }
  }
}

// Scans every float of planes [0, oc) of `out`: interior ones give err(o, chw index, value), the largest kept (a NaN
// value counts as 1e30); every other float (ring, slack) must be 0, else it counts in bad_ring.
struct PlaneScan {
  double max_err = 0.0;
  int bad_ring = 0;
};
template <class Err>
PlaneScan scan_output(const PaddedPlanes& out, int oc, Err err) {
  const int h = out.geo.h, w = out.geo.w, pitch = out.geo.pitch();
  PlaneScan r;
  for (int o = 0; o < oc; ++o) {
    const float* d = out.plane(o);
    for (std::size_t k = 0; k < out.geo.plane_stride(); ++k) {
      const int y = int(k) / pitch, x = int(k) % pitch;
      if (y >= 1 && y <= h && x >= 1 && x <= w) {
        const double e = err(o, (std::size_t(o) * h + y - 1) * w + x - 1, d[k]);
        r.max_err = std::isnan(d[k]) ? 1e30 : std::max(r.max_err, e);
      } else if (d[k] != 0.0f) {
        ++r.bad_ring;
      }
    }
  }
  return r;
}

// Floats of `big`'s planes outside [first, first + n) that differ from `filler`: a kernel writing an output
// slice must leave them alone.
inline int touched_outside(const PaddedPlanes& big, int first, int n, float filler) {
  int touched = 0;
  for (int c = 0; c < big.channels; ++c) {
    if (c >= first && c < first + n) continue;
    const float* d = big.plane(c);
    for (std::size_t k = 0; k < big.geo.plane_stride(); ++k) touched += d[k] != filler;
  }
  return touched;
}

// Per-output-channel symmetric INT8 weight scales: max |w| / 127 (1 for an all-zero channel).
inline std::vector<float> max_abs_scales(const std::vector<float>& wt, int oc) {
  const std::size_t per = wt.size() / oc;
  std::vector<float> s(oc);
  for (int o = 0; o < oc; ++o) {
    float m = 0;
    for (std::size_t k = 0; k < per; ++k) m = std::max(m, std::fabs(wt[o * per + k]));
    s[o] = m > 0 ? m / 127.0f : 1.0f;
  }
  return s;
}

}  // namespace resr::cpu::test
