// NIQE (see niqe.h). Reference: Mittal et al. 2013; BasicSR basicsr/metrics/niqe.py (calculate_niqe, niqe,
// compute_feature), whose float32 planes and float64 statistics are mirrored here.
#include "metrics/niqe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "metrics/aggd.h"
#include "metrics/matlab_imresize.h"
#include "metrics/niqe_params.h"
#include "metrics/sym_pinv.h"

namespace resr::metrics {
namespace {

constexpr int kPerScale = kNiqeFeatures / 2;
constexpr int kHalf = kNiqeWindowSize / 2;

// One sample as 8-bit (16-bit rounded: v / 257).
int sample8(const Image& img, std::size_t i) {
  return img.bits == 16 ? (img.sample16(i) + 128) / 257 : img.bytes[i];
}

// BasicSR's to_y_channel on float32 input: v / 255 in float32, the BT.601 dot product plus 16 in float64,
// / 255 then stored as float32, * 255 in float32; calculate_niqe then rounds half to even.
float luma(int r, int g, int b) {
  const double xr = float(r) / 255.0f, xg = float(g) / 255.0f, xb = float(b) / 255.0f;
  const double y = (xb * 24.966 + xg * 128.553 + xr * 65.481 + 16.0) / 255.0;
  return std::nearbyint(float(y) * 255.0f);
}

// Mean subtracted contrast normalised coefficients, float32 like scipy.ndimage.convolve's output for a float32
// image (sums in double, stored as float32) and the NumPy float32 arithmetic that follows.
FloatPlane mscn(const FloatPlane& img) {
  const int w = img.width, h = img.height, pw = w + 2 * kHalf;
  // Edge-replicated copies of the image and of its float32 square ('nearest' mode).
  std::vector<float> pad(std::size_t(pw) * (h + 2 * kHalf)), pad_sq(pad.size());
  for (int y = -kHalf; y < h + kHalf; ++y)
    for (int x = -kHalf; x < w + kHalf; ++x) {
      const float v = img.at(std::clamp(x, 0, w - 1), std::clamp(y, 0, h - 1));
      const std::size_t i = std::size_t(y + kHalf) * pw + (x + kHalf);
      pad[i] = v;
      pad_sq[i] = v * v;
    }
  FloatPlane out(w, h);
#pragma omp parallel
  {
    std::vector<double> mu(w), ex2(w);
#pragma omp for schedule(static)
    for (int y = 0; y < h; ++y) {
      std::fill(mu.begin(), mu.end(), 0.0);
      std::fill(ex2.begin(), ex2.end(), 0.0);
      for (int ky = 0; ky < kNiqeWindowSize; ++ky)
        for (int kx = 0; kx < kNiqeWindowSize; ++kx) {
          const double wt = kNiqeWindow[ky * kNiqeWindowSize + kx];
          const float* p = &pad[std::size_t(y + ky) * pw + kx];
          const float* q = &pad_sq[std::size_t(y + ky) * pw + kx];
          for (int x = 0; x < w; ++x) {
            mu[x] += wt * p[x];
            ex2[x] += wt * q[x];
          }
        }
      for (int x = 0; x < w; ++x) {
        const float m = float(mu[x]), e = float(ex2[x]);
        const float sigma = std::sqrt(std::fabs(e - m * m));
        out.at(x, y) = (img.at(x, y) - m) / (sigma + 1.0f);
      }
    }
  }
  return out;
}

// The 18 features of one block (compute_feature).
void block_features(const FloatPlane& m, int x0, int y0, int size, double* f) {
  std::vector<float> b(std::size_t(size) * size), prod(b.size());
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) b[std::size_t(y) * size + x] = m.at(x0 + x, y0 + y);
  AggdFit fit = fit_aggd(b.data(), b.size());
  f[0] = fit.alpha;
  f[1] = (fit.beta_left + fit.beta_right) / 2;
  static constexpr int kShifts[4][2] = {{0, 1}, {1, 0}, {1, 1}, {1, -1}};  // np.roll shifts along (y, x)
  for (int s = 0; s < 4; ++s) {
    const int dy = kShifts[s][0], dx = kShifts[s][1];
    for (int y = 0; y < size; ++y) {
      const int sy = (y - dy + size) % size;
      for (int x = 0; x < size; ++x)
        prod[std::size_t(y) * size + x] =
            b[std::size_t(y) * size + x] * b[std::size_t(sy) * size + (x - dx + size) % size];
    }
    fit = fit_aggd(prod.data(), prod.size());
    double* g = f + 2 + 4 * s;
    g[0] = fit.alpha;
    g[1] = (fit.beta_right - fit.beta_left) * (std::tgamma(2 / fit.alpha) / std::tgamma(1 / fit.alpha));
    g[2] = fit.beta_left;
    g[3] = fit.beta_right;
  }
}

// Features of every block at one scale into columns [offset, offset + 18) of `feat` (rows: blocks, x outer).
void scale_features(const FloatPlane& img, int blocks_x, int blocks_y, int block, int offset,
                    std::vector<double>& feat) {
  const FloatPlane m = mscn(img);
#pragma omp parallel for schedule(dynamic)
  for (int i = 0; i < blocks_x * blocks_y; ++i) {
    const int bx = i / blocks_y, by = i % blocks_y;
    block_features(m, bx * block, by * block, block, &feat[std::size_t(i) * kNiqeFeatures + offset]);
  }
}

Result<double> quality(const std::vector<double>& feat, int rows) {
  constexpr int n = kNiqeFeatures;
  std::vector<double> mu(n, 0.0);
  for (int j = 0; j < n; ++j) {
    double sum = 0;
    int count = 0;
    for (int i = 0; i < rows; ++i) {
      const double v = feat[std::size_t(i) * n + j];
      if (!std::isnan(v)) {
        sum += v;
        ++count;
      }
    }
    if (count == 0)
      return Status::error("too little texture for NIQE: feature " + std::to_string(j) +
                           " is undefined in every block");
    mu[j] = sum / count;
  }
  std::vector<int> clean;  // blocks without NaN
  for (int i = 0; i < rows; ++i) {
    bool ok = true;
    for (int j = 0; j < n && ok; ++j) ok = !std::isnan(feat[std::size_t(i) * n + j]);
    if (ok) clean.push_back(i);
  }
  std::vector<double> cov(std::size_t(n) * n, 0.0);
  if (clean.size() >= 2) {
    std::vector<double> mean(n, 0.0);
    for (int i : clean)
      for (int j = 0; j < n; ++j) mean[j] += feat[std::size_t(i) * n + j];
    for (double& v : mean) v /= double(clean.size());
    for (int i : clean) {
      const double* r = &feat[std::size_t(i) * n];
      for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b) cov[std::size_t(a) * n + b] += (r[a] - mean[a]) * (r[b] - mean[b]);
    }
    for (double& v : cov) v /= double(clean.size() - 1);
  }
  for (std::size_t k = 0; k < cov.size(); ++k) cov[k] = (kNiqeCovPris[k] + cov[k]) / 2;
  const std::vector<double> inv = symmetric_pinv(cov, n);
  std::vector<double> d(n);
  for (int j = 0; j < n; ++j) d[j] = kNiqeMuPris[j] - mu[j];
  double q = 0;
  for (int a = 0; a < n; ++a) {
    double row = 0;
    for (int b = 0; b < n; ++b) row += inv[std::size_t(a) * n + b] * d[b];
    q += d[a] * row;
  }
  return std::sqrt(std::max(q, 0.0));
}

}  // namespace

FloatPlane niqe_luma(const Image& img) {
  FloatPlane y(img.width, img.height);
  const int ch = img.channels;
  for (std::size_t p = 0; p < y.data.size(); ++p) {
    const std::size_t base = p * ch;
    if (ch >= 3)
      y.data[p] = luma(sample8(img, base), sample8(img, base + 1), sample8(img, base + 2));
    else {
      const int v = sample8(img, base);
      y.data[p] = luma(v, v, v);
    }
  }
  return y;
}

Result<double> niqe_of_luma(const FloatPlane& y) {
  const int bx = y.width / kNiqeBlock, by = y.height / kNiqeBlock;
  if (bx < 1 || by < 1)
    return Status::error("image " + std::to_string(y.width) + "x" + std::to_string(y.height) + " is smaller than one " +
                         std::to_string(kNiqeBlock) + "x" + std::to_string(kNiqeBlock) + " NIQE block");
  FloatPlane img(bx * kNiqeBlock, by * kNiqeBlock);
  for (int r = 0; r < img.height; ++r)
    std::copy_n(&y.data[std::size_t(r) * y.width], img.width, &img.data[std::size_t(r) * img.width]);

  std::vector<double> feat(std::size_t(bx) * by * kNiqeFeatures);
  scale_features(img, bx, by, kNiqeBlock, 0, feat);
  for (float& v : img.data) v /= 255.0f;
  FloatPlane half = matlab_imresize(img, 0.5);
  for (float& v : half.data) v *= 255.0f;
  scale_features(half, bx, by, kNiqeBlock / 2, kPerScale, feat);
  return quality(feat, bx * by);
}

Result<double> niqe(const Image& img) {
  if (img.width < 1 || img.height < 1 || img.channels < 1 || img.channels > 4 || (img.bits != 8 && img.bits != 16) ||
      img.bytes.size() != img.sample_count() * std::size_t(img.bits / 8))
    return Status::error("niqe: inconsistent image");
  if (img.width < kNiqeBlock || img.height < kNiqeBlock)  // before converting anything
    return niqe_of_luma(FloatPlane(img.width, img.height));
  return niqe_of_luma(niqe_luma(img));
}

}  // namespace resr::metrics
