#include "quant/threshold_methods.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace resr::quant {
namespace {

constexpr int kLevels = 128;  // |q| levels of symmetric int8, as TensorRT's entropy calibrator counts them

// Bins up to and including the last non-empty one.
int bins_in_use(const std::vector<std::uint64_t>& h) {
  int n = static_cast<int>(h.size());
  while (n > 0 && h[n - 1] == 0) --n;
  return n;
}

float percentile_threshold(const TensorStats& s, double p) {
  const auto& h = s.histogram();
  const double target = std::clamp(p, 0.0, 100.0) / 100.0 * double(s.count());
  if (p >= 100.0) return s.max_abs();
  double below = 0;
  for (std::size_t j = 0; j < h.size(); ++j) {
    if (below + double(h[j]) >= target && h[j] > 0) {
      const double f = (target - below) / double(h[j]);
      return std::min(s.max_abs(), float((double(j) + f) * s.bin_width()));
    }
    below += double(h[j]);
  }
  return s.max_abs();
}

float kl_threshold(const TensorStats& s) {
  const auto& h = s.histogram();
  const int nb = bins_in_use(h);
  if (nb <= kLevels) return s.max_abs();
  // Prefix sums over bins [0, j): counts, non-empty bins, sum of n log n.
  std::vector<double> cnt(nb + 1, 0), nonempty(nb + 1, 0), nlogn(nb + 1, 0);
  for (int j = 0; j < nb; ++j) {
    const double n = double(h[j]);
    cnt[j + 1] = cnt[j] + n;
    nonempty[j + 1] = nonempty[j] + (n > 0 ? 1 : 0);
    nlogn[j + 1] = nlogn[j] + (n > 0 ? n * std::log(n) : 0);
  }
  const double total = cnt[nb];
  double best_kl = INFINITY;
  int best = nb;
  for (int i = kLevels; i <= nb; ++i) {
    // P: bins [0, i) with the outliers folded into bin i-1 (sums to total); Q: [0, i) squeezed into kLevels
    // levels and spread evenly over each level's non-empty bins (sums to cnt[i]).
    // KL = sum P log P / total - log total - sum P log Q / total + log cnt[i], in counts.
    if (cnt[i] <= 0) continue;  // nothing below this candidate: Q would be empty
    const double outliers = total - cnt[i];
    const double last = double(h[i - 1]) + outliers;
    double p_log_p = nlogn[i - 1] + (last > 0 ? last * std::log(last) : 0);
    double p_log_q = 0;
    for (int l = 0; l < kLevels; ++l) {
      const int a = int(std::int64_t(l) * i / kLevels), b = int(std::int64_t(l + 1) * i / kLevels);
      const double t = cnt[b] - cnt[a], nz = nonempty[b] - nonempty[a];
      const double q = t > 0 ? t / nz : 0;  // Q of each non-empty bin of this level
      if (t > 0) p_log_q += t * std::log(q);
    }
    if (outliers > 0) {
      // The outliers sit on bin i-1, where Q is its level's share, or zero when that bin is empty: a tiny
      // floor then stands in for zero (a large but finite penalty).
      const int a = int(std::int64_t(kLevels - 1) * i / kLevels);
      const double q_last = h[i - 1] > 0 ? (cnt[i] - cnt[a]) / (nonempty[i] - nonempty[a]) : 1e-12 * cnt[i];
      p_log_q += outliers * std::log(q_last);
    }
    const double kl = (p_log_p - p_log_q) / total - std::log(total) + std::log(cnt[i]);
    if (kl < best_kl) {
      best_kl = kl;
      best = i;
    }
  }
  return std::min(s.max_abs(), float(double(best) * s.bin_width()));
}

float mse_threshold(const TensorStats& s) {
  const auto& h = s.histogram();
  const int nb = bins_in_use(h);
  const double w = s.bin_width();
  // Prefix sums over bins [0, j) of n, n c, n c^2 with c the bin centre.
  std::vector<double> s0(nb + 1, 0), s1(nb + 1, 0), s2(nb + 1, 0);
  for (int j = 0; j < nb; ++j) {
    const double n = double(h[j]), c = (j + 0.5) * w;
    s0[j + 1] = s0[j] + n;
    s1[j + 1] = s1[j] + n * c;
    s2[j + 1] = s2[j] + n * c * c;
  }
  auto error = [&](double t) {
    const double step = t / 127.0;
    const int inside = std::clamp(int(std::floor(t / w - 0.5)) + 1, 0, nb);           // centres <= t
    const int to_zero = std::clamp(int(std::ceil(step / (2 * w) - 0.5)), 0, inside);  // centres < step / 2
    const double clipped = (s2[nb] - s2[inside]) - 2 * t * (s1[nb] - s1[inside]) + t * t * (s0[nb] - s0[inside]);
    return s2[to_zero] + (s0[inside] - s0[to_zero]) * step * step / 12.0 + clipped;
  };
  double best_t = s.max_abs(), best_err = error(best_t);
  for (int i = 1; i <= nb; ++i) {
    const double t = i * w;
    if (t >= s.max_abs()) break;
    const double e = error(t);
    if (e < best_err) {
      best_err = e;
      best_t = t;
    }
  }
  return float(best_t);
}

}  // namespace

const char* method_name(Method m) {
  switch (m) {
    case Method::kMinMax:
      return "minmax";
    case Method::kPercentile:
      return "percentile";
    case Method::kKl:
      return "kl";
    case Method::kMse:
      return "mse";
  }
  return "?";
}

bool parse_method(const std::string& s, Method* out) {
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kKl, Method::kMse}) {
    if (s == method_name(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

float compute_threshold(const TensorStats& stats, Method method, const MethodOptions& options) {
  if (stats.count() == 0 || stats.max_abs() <= 0.0f) return 0.0f;
  switch (method) {
    case Method::kMinMax:
      return stats.max_abs();
    case Method::kPercentile:
      return percentile_threshold(stats, options.percentile);
    case Method::kKl:
      return kl_threshold(stats);
    case Method::kMse:
      return mse_threshold(stats);
  }
  return stats.max_abs();
}

}  // namespace resr::quant
