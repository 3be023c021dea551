#include "quant/migration_estimate.h"

#include <algorithm>
#include <cmath>

#include "quant/quantize_graph.h"

namespace resr::quant {
namespace {

// ratio^migration; the candidates by sqrt and products, correctly rounded everywhere (pow need not be), so that a
// table gives the same factors, and files, on every machine.
float factor(float ratio, float migration) {
  if (migration == 1.0f) return ratio;
  if (migration == 0.5f) return std::sqrt(ratio);
  if (migration == 0.25f) return std::sqrt(std::sqrt(ratio));
  if (migration == 0.75f) return std::sqrt(ratio) * std::sqrt(std::sqrt(ratio));
  return std::pow(ratio, migration);
}

double squared(double v) {
  return v * v;
}

}  // namespace

std::vector<float> channel_factors(const TensorRange& range, int channels, float migration) {
  const float t = effective_threshold(range.threshold);
  std::vector<float> f(static_cast<std::size_t>(channels));
  for (std::size_t c = 0; c < f.size(); ++c)
    f[c] = std::max(factor(range.channel_max[c] / t, migration), kMinChannelFactor);
  return f;
}

double estimated_relative_error(const ir::Node& n, const TensorRange& range, float migration) {
  const int ic = n.conv.in_channels, oc = n.conv.out_channels;
  const std::size_t taps = std::size_t(n.conv.kernel_h) * std::size_t(n.conv.kernel_w);
  const std::vector<float> f = channel_factors(range, ic, migration);
  const double step = double(effective_threshold(range.threshold)) / 127.0;
  std::vector<double> power(static_cast<std::size_t>(ic));  // E[x_c^2]
  for (int c = 0; c < ic; ++c) power[c] = squared(kRmsPerMax * double(range.channel_max[std::size_t(c)]));
  double noise = 0, signal = 0;
  for (int o = 0; o < oc; ++o) {
    const float* w = n.weights.data() + std::size_t(o) * std::size_t(ic) * taps;
    double largest = 0;  // max |w[o][.] f|
    for (int c = 0; c < ic; ++c)
      for (std::size_t k = 0; k < taps; ++k) largest = std::max(largest, std::fabs(double(w[c * taps + k]) * f[c]));
    const double weight_var = squared(largest / 127.0) / 12.0;
    for (int c = 0; c < ic; ++c) {
      const double fc = f[std::size_t(c)], input_var = std::min(squared(step * fc) / 12.0, power[c]);
      double norm = 0, folded_noise = 0;  // ||w[o][c]||^2; the folded weights' rounding noise
      for (std::size_t k = 0; k < taps; ++k) {
        const double v = w[c * taps + k];
        norm += v * v;
        folded_noise += std::min(weight_var, v * v * fc * fc);
      }
      noise += norm * input_var + power[c] / (fc * fc) * folded_noise;
      signal += norm * power[c];
    }
  }
  return signal > 0 ? noise / signal : 0.0;
}

float choose_migration(std::span<const ir::Node* const> group, const TensorRange& range,
                       std::span<const float> candidates) {
  float best = candidates.front();
  double least = INFINITY;
  for (const float a : candidates) {
    double error = 0;
    for (const ir::Node* n : group) error += estimated_relative_error(*n, range, a);
    if (error < least) {
      least = error;
      best = a;
    }
  }
  return best;
}

}  // namespace resr::quant
