// SSIM (see ssim.h). Reference: Wang et al. 2004; BasicSR basicsr/metrics/psnr_ssim.py (_ssim, calculate_ssim).
// The Gaussian window is separable, so it is applied as two 1-D passes over the valid region.
#include "metrics/ssim.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "metrics/colour_pair.h"

namespace resr::metrics {
namespace {

struct Plane {
  int w = 0, h = 0;
  std::vector<double> v;
};

double sample255(const Image& img, std::size_t i) {
  return img.bits == 16 ? img.sample16(i) / 65535.0 * 255.0 : double(img.bytes[i]);
}

// Channel c (or luma when c < 0) of the cropped image.
Plane extract(const Image& img, int c, int crop) {
  Plane p{img.width - 2 * crop, img.height - 2 * crop, {}};
  p.v.resize(std::size_t(p.w) * p.h);
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x) {
      const std::size_t base = (std::size_t(y + crop) * img.width + (x + crop)) * img.channels;
      double v;
      if (c >= 0) {
        v = sample255(img, base + c);
      } else {
        v = (65.481 * sample255(img, base) + 128.553 * sample255(img, base + 1) + 24.966 * sample255(img, base + 2)) /
                255.0 +
            16.0;
      }
      p.v[std::size_t(y) * p.w + x] = v;
    }
  return p;
}

// The window applied over the valid region: (w - 10) x (h - 10) outputs.
std::vector<double> filter_valid(const std::vector<double>& in, int w, int h, const double* g) {
  const int ow = w - (kSsimWindow - 1), oh = h - (kSsimWindow - 1);
  std::vector<double> rows(std::size_t(ow) * h), out(std::size_t(ow) * oh, 0.0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < ow; ++x) {
      double s = 0;
      for (int k = 0; k < kSsimWindow; ++k) s += g[k] * in[std::size_t(y) * w + x + k];
      rows[std::size_t(y) * ow + x] = s;
    }
  for (int y = 0; y < oh; ++y)
    for (int k = 0; k < kSsimWindow; ++k)
      for (int x = 0; x < ow; ++x) out[std::size_t(y) * ow + x] += g[k] * rows[std::size_t(y + k) * ow + x];
  return out;
}

double ssim_plane(const Plane& a, const Plane& b) {
  double g[kSsimWindow], sum = 0;  // cv2.getGaussianKernel(11, 1.5)
  for (int k = 0; k < kSsimWindow; ++k) {
    const double d = k - (kSsimWindow - 1) / 2.0;
    g[k] = std::exp(-d * d / (2 * 1.5 * 1.5));
    sum += g[k];
  }
  for (double& v : g) v /= sum;
  const std::size_t n = a.v.size();
  std::vector<double> aa(n), bb(n), ab(n);
  for (std::size_t i = 0; i < n; ++i) {
    aa[i] = a.v[i] * a.v[i];
    bb[i] = b.v[i] * b.v[i];
    ab[i] = a.v[i] * b.v[i];
  }
  const std::vector<double> mu1 = filter_valid(a.v, a.w, a.h, g), mu2 = filter_valid(b.v, a.w, a.h, g),
                            s11 = filter_valid(aa, a.w, a.h, g), s22 = filter_valid(bb, a.w, a.h, g),
                            s12 = filter_valid(ab, a.w, a.h, g);
  const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  double total = 0;
  for (std::size_t i = 0; i < mu1.size(); ++i) {
    const double m11 = mu1[i] * mu1[i], m22 = mu2[i] * mu2[i], m12 = mu1[i] * mu2[i];
    const double v1 = s11[i] - m11, v2 = s22[i] - m22, v12 = s12[i] - m12;
    total += ((2 * m12 + c1) * (2 * v12 + c2)) / ((m11 + m22 + c1) * (v1 + v2 + c2));
  }
  return total / double(mu1.size());
}

}  // namespace

Result<double> ssim(const Image& in_a, const Image& in_b, const SsimOptions& o) {
  if (in_a.width != in_b.width || in_a.height != in_b.height)
    return Status::error("sizes differ: " + std::to_string(in_a.width) + "x" + std::to_string(in_a.height) + " vs " +
                         std::to_string(in_b.width) + "x" + std::to_string(in_b.height));
  // In 64 bits: 2 * crop_border overflows int for borders past 2^30.
  const std::int64_t w = in_a.width - 2 * std::int64_t(o.crop_border),
                     h = in_a.height - 2 * std::int64_t(o.crop_border);
  if (o.crop_border < 0 || w < kSsimWindow || h < kSsimWindow)
    return Status::error("image " + std::to_string(in_a.width) + "x" + std::to_string(in_a.height) +
                         " with crop border " + std::to_string(o.crop_border) +
                         " leaves less than the 11x11 SSIM window");
  const ColourPair pair(in_a, in_b, o.y_channel);
  const Image &a = pair.a(), &b = pair.b();
  const int colour = pair.colours();
  if (o.y_channel && colour == 3) return ssim_plane(extract(a, -1, o.crop_border), extract(b, -1, o.crop_border));
  double sum = 0;
  for (int c = 0; c < colour; ++c) sum += ssim_plane(extract(a, c, o.crop_border), extract(b, c, o.crop_border));
  return sum / colour;
}

}  // namespace resr::metrics
