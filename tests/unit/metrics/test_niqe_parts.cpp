// The pieces of NIQE: Y rounding, MATLAB imresize, the AGGD fit and the symmetric pseudo-inverse.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "metric_images.h"
#include "metrics/aggd.h"
#include "metrics/matlab_imresize.h"
#include "metrics/niqe.h"
#include "metrics/sym_pinv.h"

namespace resr::metrics {
namespace {

TEST(NiqeLuma, Bt601RoundedLikeMatlab) {
  Image img = testing::flat_image(4, 1, 3, 0);
  const std::uint8_t px[4][3] = {{0, 0, 0}, {255, 255, 255}, {255, 0, 0}, {10, 200, 30}};
  for (int i = 0; i < 4; ++i)
    for (int c = 0; c < 3; ++c) img.bytes[i * 3 + c] = px[i][c];
  const FloatPlane y = niqe_luma(img);
  EXPECT_EQ(y.at(0, 0), 16.0f);
  EXPECT_EQ(y.at(1, 0), 235.0f);
  EXPECT_EQ(y.at(2, 0), 81.0f);  // 16 + 65.481
  EXPECT_EQ(y.at(3, 0), std::nearbyint(16 + (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255));
}

TEST(MatlabImresize, HalfScaleWeights) {
  // Scale 0.5, antialiased: 8 taps 0.5 * cubic(d / 2), d = +-0.5, 1.5, 2.5, 3.5, which sum to exactly 1.
  const double w[4] = {0.43359375, 0.11328125, -0.03515625, -0.01171875};
  FloatPlane in(16, 1);
  for (int x = 0; x < 16; ++x) in.at(x, 0) = float(x * x);
  const FloatPlane out = matlab_imresize(in, 0.5);
  ASSERT_EQ(out.width, 8);
  ASSERT_EQ(out.height, 1);
  auto mirrored = [&](int i) { return double(in.at(i < 0 ? -i - 1 : i > 15 ? 31 - i : i, 0)); };
  for (int o = 0; o < 8; ++o) {
    double expect = 0;  // output o is centred between inputs 2o and 2o + 1
    for (int k = 0; k < 4; ++k) expect += w[k] * (mirrored(2 * o - k) + mirrored(2 * o + 1 + k));
    EXPECT_NEAR(out.at(o, 0), expect, 1e-4) << o;
  }
}

TEST(MatlabImresize, ConstantStaysConstantAndSizeRoundsUp) {
  FloatPlane in(7, 5);
  for (float& v : in.data) v = 0.25f;
  const FloatPlane out = matlab_imresize(in, 0.5);
  EXPECT_EQ(out.width, 4);
  EXPECT_EQ(out.height, 3);
  for (float v : out.data) EXPECT_NEAR(v, 0.25f, 1e-6);
}

TEST(Aggd, GaussianSamplesHaveShapeTwo) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(200000);
  for (float& v : x) v = normal(rng);
  const AggdFit fit = fit_aggd(x.data(), x.size());
  EXPECT_NEAR(fit.alpha, 2.0, 0.05);
  EXPECT_NEAR(fit.beta_left, 2.0 * std::sqrt(2.0), 0.05);  // beta = sigma sqrt(2) for alpha = 2
  EXPECT_NEAR(fit.beta_right, 2.0 * std::sqrt(2.0), 0.05);
}

TEST(Aggd, LaplacianSamplesHaveShapeOne) {
  std::mt19937 rng(7);
  std::exponential_distribution<float> expo(1.0f);
  std::vector<float> x(200000);
  // An AGGD with beta_l = 3 beta_r puts 3/4 of the mass on the left.
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i % 4 == 0 ? 1.0f : -3.0f) * expo(rng);
  const AggdFit fit = fit_aggd(x.data(), x.size());
  EXPECT_NEAR(fit.alpha, 1.0, 0.05);
  EXPECT_NEAR(fit.beta_left / fit.beta_right, 3.0, 0.1);
}

TEST(Aggd, OneSidedOrZeroSamplesGiveNaNBetaAndTheFirstShape) {
  const std::vector<float> positive = {1, 2, 3, 0}, zeros(10, 0.0f);
  AggdFit fit = fit_aggd(positive.data(), positive.size());
  EXPECT_EQ(fit.alpha, 0.2);
  EXPECT_TRUE(std::isnan(fit.beta_left));
  fit = fit_aggd(zeros.data(), zeros.size());
  EXPECT_EQ(fit.alpha, 0.2);
  EXPECT_TRUE(std::isnan(fit.beta_right));
}

std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int n) {
  std::vector<double> c(std::size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}

TEST(SymmetricPinv, InvertsAFullRankMatrix) {
  const int n = 36;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> m(n * n), a(n * n, 0.0);
  for (double& v : m) v = u(rng);
  for (int i = 0; i < n; ++i)  // a = m m^T + 0.1 I: symmetric positive definite
    for (int j = 0; j < n; ++j) {
      for (int k = 0; k < n; ++k) a[i * n + j] += m[i * n + k] * m[j * n + k];
      if (i == j) a[i * n + j] += 0.1;
    }
  const std::vector<double> p = matmul(a, symmetric_pinv(a, n), n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) EXPECT_NEAR(p[i * n + j], i == j ? 1.0 : 0.0, 1e-8);
}

TEST(SymmetricPinv, RankDeficientSatisfiesPenroseConditions) {
  const int n = 6;
  std::vector<double> a(n * n, 0.0);
  const double v1[n] = {1, 2, 0, -1, 3, 1}, v2[n] = {0, 1, 1, 1, -2, 4};
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[i * n + j] = 2 * v1[i] * v1[j] + 0.5 * v2[i] * v2[j];  // rank 2
  const std::vector<double> p = symmetric_pinv(a, n);
  const std::vector<double> apa = matmul(matmul(a, p, n), a, n), pap = matmul(matmul(p, a, n), p, n);
  for (int i = 0; i < n * n; ++i) {
    EXPECT_NEAR(apa[i], a[i], 1e-9);
    EXPECT_NEAR(pap[i], p[i], 1e-9);
  }
}

}  // namespace
}  // namespace resr::metrics
