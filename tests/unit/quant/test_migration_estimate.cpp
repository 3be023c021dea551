// migration_estimate: the factors, and that the estimate picks the strength a simulation of the quantized conv
// finds best, on constructed convs where the best strength is known to differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "quant/migration_estimate.h"
#include "quant/quantize_graph.h"

namespace resr::quant {
namespace {

constexpr int kIn = 8, kOut = 6;

ir::Node conv1x1(const std::vector<float>& weights) {
  ir::Node n;
  n.op = ir::Op::kConv2d;
  n.name = "conv";
  n.conv.in_channels = kIn;
  n.conv.out_channels = kOut;
  n.conv.kernel_h = n.conv.kernel_w = 1;
  n.conv.pad = 0;
  n.weights = weights;
  n.bias.assign(kOut, 0.0f);
  return n;
}

// Weights w[o][c] = +-(0.5 .. 1) * scale(c), signs and sizes from a fixed generator.
template <class Scale>
std::vector<float> weights(Scale scale) {
  std::mt19937 gen(7);
  std::vector<float> w(std::size_t(kOut) * kIn);
  for (int o = 0; o < kOut; ++o)
    for (int c = 0; c < kIn; ++c) {
      const float size = 0.5f + 0.5f * float(gen() % 1000) / 1000.0f;
      w[std::size_t(o) * kIn + c] = (gen() % 2 ? size : -size) * scale(c);
    }
  return w;
}

// The conv's relative output error (noise power over signal power) with strength a, simulated: inputs with
// channel c's largest |x| m_c and RMS 0.1 m_c (Laplace-like, clipped at m_c: activations' long tails), quantized as
// resr quantizes them (input codes x / (s f_c) rounded and clamped to +-127, weights w f_c per output channel).
double simulated_error(const ir::Node& n, const TensorRange& r, float a) {
  const std::vector<float> f = channel_factors(r, kIn, a);
  std::vector<float> folded(n.weights.size()), step(kOut);
  for (int o = 0; o < kOut; ++o) {
    float largest = 0;
    for (int c = 0; c < kIn; ++c) largest = std::max(largest, std::fabs(n.weights[o * kIn + c] * f[c]));
    step[o] = largest / 127.0f;
    for (int c = 0; c < kIn; ++c) folded[o * kIn + c] = std::round(n.weights[o * kIn + c] * f[c] / step[o]) * step[o];
  }
  const float s = r.threshold / 127.0f;
  std::mt19937 gen(11);
  std::exponential_distribution<float> magnitude(1.0f);
  double noise = 0, signal = 0;
  std::vector<float> x(kIn), xq(kIn);
  for (int i = 0; i < 20000; ++i) {
    for (int c = 0; c < kIn; ++c) {
      const float m = r.channel_max[c], v = std::min(magnitude(gen) * 0.1f * m / std::sqrt(2.0f), m);
      x[c] = gen() % 2 ? v : -v;
      xq[c] = std::clamp(std::round(x[c] / (s * f[c])), -127.0f, 127.0f) * s;  // in units of x / f_c
    }
    for (int o = 0; o < kOut; ++o) {
      double y = 0, yq = 0;
      for (int c = 0; c < kIn; ++c) {
        y += double(n.weights[o * kIn + c]) * x[c];
        yq += double(folded[o * kIn + c]) * xq[c];
      }
      noise += (yq - y) * (yq - y);
      signal += y * y;
    }
  }
  return noise / signal;
}

float simulated_best(const ir::Node& n, const TensorRange& r) {
  float best = 0;
  double least = INFINITY;
  for (const float a : kMigrationCandidates)
    if (const double e = simulated_error(n, r, a); e < least) {
      least = e;
      best = a;
    }
  return best;
}

TEST(ChannelFactors, FollowTheRuleWithAFloor) {
  const TensorRange r{"x", 4.0f, -1.0f, 5.0f, {4.0f, 1.0f, 5.0f, 0.0f}};
  const std::vector<float> half = channel_factors(r, 4, 0.5f), full = channel_factors(r, 3, 1.0f);
  EXPECT_EQ(half, (std::vector<float>{1.0f, 0.5f, std::sqrt(1.25f), kMinChannelFactor}));
  EXPECT_EQ(full, (std::vector<float>{1.0f, 0.25f, 1.25f}));
  EXPECT_FLOAT_EQ(channel_factors(r, 2, 0.25f)[1], std::pow(0.25f, 0.25f));
  const TensorRange silent{"y", 0.0f, 0.0f, 0.0f, {0.5f}};  // no threshold: counts as 1
  EXPECT_FLOAT_EQ(channel_factors(silent, 1, 1.0f)[0], 0.5f);
}

// Two convs where the best strength differs. "balanced": channel ranges spanning three orders of magnitude, weights
// inversely proportional to them (each channel contributing alike, as a network balances them): moving the whole
// range into the weights is best, every channel then fills the codes and the folded weights are alike. "outlier":
// one channel twice past the threshold (as percentile thresholds leave some), weights growing with the range: its
// factor above 1 enlarges its weights and so coarsens every weight of the row, the least migration is best.
TEST(ChooseMigration, PicksTheStrengthTheSimulationFindsBest) {
  const std::vector<float> spread{8.0f, 4.0f, 2.0f, 0.5f, 0.2f, 0.05f, 0.02f, 0.01f};
  const std::vector<float> outlier{16.0f, 4.0f, 2.0f, 2.0f, 1.0f, 1.0f, 0.5f, 0.5f};
  const TensorRange spread_range{"x", 8.0f, -8.0f, 8.0f, spread}, outlier_range{"x", 8.0f, -16.0f, 16.0f, outlier};
  const ir::Node balanced = conv1x1(weights([&](int c) { return 1.0f / spread[c]; }));
  const ir::Node growing = conv1x1(weights([&](int c) { return std::sqrt(outlier[c]); }));
  const ir::Node* balanced_only[] = {&balanced};
  const ir::Node* growing_only[] = {&growing};
  EXPECT_EQ(simulated_best(balanced, spread_range), 1.0f);
  EXPECT_EQ(choose_migration(balanced_only, spread_range, kMigrationCandidates), 1.0f);
  EXPECT_EQ(simulated_best(growing, outlier_range), 0.25f);
  EXPECT_EQ(choose_migration(growing_only, outlier_range, kMigrationCandidates), 0.25f);
  for (const float a : kMigrationCandidates) {  // the estimate is of the simulated size, within a factor 2
    EXPECT_NEAR(std::log(estimated_relative_error(balanced, spread_range, a)),
                std::log(simulated_error(balanced, spread_range, a)), std::log(2.0))
        << a;
    EXPECT_NEAR(std::log(estimated_relative_error(growing, outlier_range, a)),
                std::log(simulated_error(growing, outlier_range, a)), std::log(2.0))
        << a;
  }
  // Only the candidates given are chosen from.
  const float some[] = {0.5f, 0.75f};
  EXPECT_EQ(choose_migration(balanced_only, spread_range, some), 0.75f);
  EXPECT_EQ(choose_migration(growing_only, outlier_range, some), 0.5f);
  // A group: the least summed error, here the balanced conv's (its errors are the larger).
  const ir::Node* both[] = {&balanced, &growing};
  EXPECT_EQ(choose_migration(both, spread_range, kMigrationCandidates), 1.0f);
}

}  // namespace
}  // namespace resr::quant
