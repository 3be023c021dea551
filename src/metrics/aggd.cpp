// AGGD moment-matching fit by table search (see aggd.h); the table of r(gamma) is the one BasicSR builds with
// np.arange(0.2, 10.001, 0.001) and scipy.special.gamma.
#include "metrics/aggd.h"

#include <cmath>
#include <limits>
#include <vector>

namespace resr::metrics {
namespace {

constexpr int kTableSize = 9801;  // gamma = 0.2 + i * 0.001, i < kTableSize (last 10.0)

double table_gamma(int i) {
  return 0.2 + i * 0.001;
}

const std::vector<double>& r_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kTableSize);
    for (int i = 0; i < kTableSize; ++i) {
      const double inv = 1.0 / table_gamma(i);
      const double g2 = std::tgamma(2 * inv);
      t[i] = g2 * g2 / (std::tgamma(inv) * std::tgamma(3 * inv));
    }
    return t;
  }();
  return table;
}

}  // namespace

AggdFit fit_aggd(const float* x, std::size_t n) {
  double left_sq = 0, right_sq = 0, abs_sum = 0, sq_sum = 0;
  std::size_t left_n = 0, right_n = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const double sq = double(v * v);  // float32 square, as NumPy's block ** 2
    sq_sum += sq;
    abs_sum += std::fabs(double(v));
    if (v < 0) {
      left_sq += sq;
      ++left_n;
    } else if (v > 0) {
      right_sq += sq;
      ++right_n;
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double left_std = left_n > 0 ? std::sqrt(left_sq / double(left_n)) : nan;
  const double right_std = right_n > 0 ? std::sqrt(right_sq / double(right_n)) : nan;
  const double g = left_std / right_std;
  const double mean_abs = abs_sum / double(n);
  const double r_hat = mean_abs * mean_abs / (sq_sum / double(n));
  const double r_norm = r_hat * (g * g * g + 1) * (g + 1) / ((g * g + 1) * (g * g + 1));

  int best = 0;  // NaN target: NumPy's argmin returns the first NaN, index 0
  if (!std::isnan(r_norm)) {
    const std::vector<double>& r = r_table();
    double best_err = std::numeric_limits<double>::infinity();
    for (int i = 0; i < kTableSize; ++i) {
      const double d = r[i] - r_norm;
      const double err = d * d;
      if (err < best_err) {
        best_err = err;
        best = i;
      }
    }
  }
  AggdFit fit;
  fit.alpha = table_gamma(best);
  const double k = std::sqrt(std::tgamma(1 / fit.alpha) / std::tgamma(3 / fit.alpha));
  fit.beta_left = left_std * k;
  fit.beta_right = right_std * k;
  return fit;
}

}  // namespace resr::metrics
