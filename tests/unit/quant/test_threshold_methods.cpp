// Activation statistics (incl. per-channel maxima) and the four threshold methods on synthetic distributions with
// known answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "quant/activation_stats.h"
#include "quant/threshold_methods.h"

namespace resr::quant {
namespace {

constexpr Method kAll[] = {Method::kMinMax, Method::kPercentile, Method::kKl, Method::kMse};

TensorStats stats_of(const std::vector<float>& v, int bins = 2048) {
  TensorStats s(bins);
  s.add(v.data(), v.size());
  return s;
}

std::vector<float> uniform(int n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = lo + (hi - lo) * float(rng() >> 8) / float(1 << 24);
  return v;
}

// Mean squared error of symmetric int8 fake quantization with threshold t.
double quant_mse(const std::vector<float>& v, float t) {
  const double scale = t / 127.0;
  double e = 0;
  for (float x : v) {
    const double q = std::clamp(std::nearbyint(x / scale), -127.0, 127.0) * scale;
    e += (x - q) * (x - q);
  }
  return e / double(v.size());
}

TEST(TensorStats, TracksRangeAndCounts) {
  TensorStats s(16);
  const std::vector<float> v = {-2.0f, 0.5f, 1.0f, NAN, INFINITY, 0.0f};
  s.add(v.data(), v.size());
  EXPECT_EQ(s.count(), 4u);  // non-finite skipped
  EXPECT_EQ(s.min(), -2.0f);
  EXPECT_EQ(s.max(), 1.0f);
  EXPECT_EQ(s.max_abs(), 2.0f);
  EXPECT_EQ(s.range(), 2.0);
  std::uint64_t total = 0;
  for (auto c : s.histogram()) total += c;
  EXPECT_EQ(total, 4u);
  EXPECT_EQ(s.histogram()[15], 1u);  // |x| == range lands in the last bin
  EXPECT_EQ(s.histogram()[0], 1u);   // the zero
}

TEST(TensorStats, HistogramDoesNotDependOnBatching) {
  // Up to 1, then up to 3.5: the range goes 1 -> 4 (powers of two) and bins merge by four.
  const std::vector<float> first = uniform(1000, 0.0f, 1.0f, 1), second = uniform(1000, -3.5f, 3.5f, 2);
  TensorStats grown(64);
  grown.add(first.data(), first.size());
  EXPECT_EQ(grown.range(), 1.0);
  grown.add(second.data(), second.size());
  EXPECT_EQ(grown.range(), 4.0);
  std::vector<float> all = first;
  all.insert(all.end(), second.begin(), second.end());
  TensorStats direct(64);
  direct.add(all.data(), all.size());
  EXPECT_EQ(grown.histogram(), direct.histogram());
  EXPECT_EQ(grown.count(), 2000u);
  EXPECT_EQ(grown.max_abs(), direct.max_abs());
  // Rows in any order (other threads) give the same too.
  TensorStats reversed(64);
  reversed.add(second.data(), second.size());
  reversed.add(first.data(), first.size());
  EXPECT_EQ(reversed.histogram(), direct.histogram());
}

TEST(TensorStats, StridedViewsAndOncePerSample) {
  // 2 channels of 2 x 3 inside a buffer with row pitch 4 and channel stride 10.
  std::vector<float> buf(20, 99.0f);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) buf[c * 10 + y * 4 + x] = float(c * 6 + y * 3 + x) - 5.0f;
  ActivationView v{buf.data(), 2, 2, 3, 10, 4};
  ActivationStats stats(32);
  stats.begin_sample();
  stats.observe(7, v);
  stats.observe(7, v);  // same value, same run: counted once
  ASSERT_EQ(stats.tensors().count(7), 1u);
  const TensorStats& s = stats.tensors().at(7);
  EXPECT_EQ(s.count(), 12u);
  EXPECT_EQ(s.min(), -5.0f);
  EXPECT_EQ(s.max(), 6.0f);
  stats.begin_sample();
  stats.observer()(7, v);
  EXPECT_EQ(stats.tensors().at(7).count(), 24u);
}

// A c x h x w tensor inside a padded buffer (row pitch w + 3, channel stride h * (w + 3) + 5); the padding holds
// values far larger than the data (and NaN), which must not be seen. A few elements are non-finite.
struct PaddedTensor {
  int c, h, w;
  std::size_t row_stride, channel_stride;
  std::vector<float> buf;
  PaddedTensor(int c_, int h_, int w_, unsigned seed)
      : c(c_), h(h_), w(w_), row_stride(std::size_t(w_) + 3), channel_stride(std::size_t(h_) * (w_ + 3) + 5) {
    buf.assign(channel_stride * std::size_t(c), 0.0f);
    std::mt19937 rng(seed);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = i % 7 ? 1e30f : NAN;
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          // Channel ch spans about +-(ch + 1), with either sign the larger.
          float v = (float(rng() >> 8) / float(1 << 24) * 2.0f - 1.0f) * float(ch + 1);
          if (rng() % 50 == 0) v = (rng() % 3 == 0) ? NAN : (rng() % 2 ? INFINITY : -INFINITY);
          at(ch, y, x) = v;
        }
  }
  float& at(int ch, int y, int x) { return buf[std::size_t(ch) * channel_stride + std::size_t(y) * row_stride + x]; }
  // Rows y0..y1-1, columns x0..x1-1 of every channel.
  ActivationView view(int y0, int y1, int x0, int x1) {
    return ActivationView{&at(0, y0, x0), c, y1 - y0, x1 - x0, channel_stride, row_stride};
  }
  std::vector<float> naive_channel_max() {
    std::vector<float> m(std::size_t(c), 0.0f);
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          if (std::isfinite(at(ch, y, x))) m[ch] = std::max(m[ch], std::fabs(at(ch, y, x)));
    return m;
  }
};

TEST(TensorStats, ChannelMaximaOfStridedViews) {
  PaddedTensor t(64, 37, 29, 11);  // 64 * 37 rows: several threads' worth
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x) t.at(5, y, x) = x == 3 ? NAN : -0.5f;  // one channel's largest |x| negative
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x) t.at(9, y, x) = (x + y) % 2 ? INFINITY : NAN;  // nothing finite: 0
  const std::vector<float> want = t.naive_channel_max();
  EXPECT_EQ(want[5], 0.5f);
  EXPECT_EQ(want[9], 0.0f);

  TensorStats whole(64);
  whole.add(t.view(0, t.h, 0, t.w));
  EXPECT_EQ(whole.channel_max_abs(), want);
  EXPECT_EQ(whole.max_abs(), *std::max_element(want.begin(), want.end()));
  // The same data split into bands of rows, or of columns, in any order: the same maxima.
  TensorStats rows(64), cols(64);
  for (auto [y0, y1] : {std::pair{30, 37}, std::pair{0, 11}, std::pair{11, 12}, std::pair{12, 30}})
    rows.add(t.view(y0, y1, 0, t.w));
  for (int x0 = t.w - 1; x0 >= 0; --x0) cols.add(t.view(0, t.h, x0, x0 + 1));
  EXPECT_EQ(rows.channel_max_abs(), want);
  EXPECT_EQ(cols.channel_max_abs(), want);
  EXPECT_EQ(rows.count(), whole.count());
  EXPECT_EQ(cols.histogram(), whole.histogram());
  // Through ActivationStats, one sample per band.
  ActivationStats stats(64);
  for (int y0 = 0; y0 < t.h; y0 += 5) {
    stats.begin_sample();
    stats.observe(3, t.view(y0, std::min(t.h, y0 + 5), 0, t.w));
  }
  EXPECT_EQ(stats.tensors().at(3).channel_max_abs(), want);
}

TEST(TensorStats, ChannelMaximaOnlyFromViews) {
  const std::vector<float> v = {-2.0f, 0.5f, 1.0f};
  TensorStats s(16);
  s.add(v.data(), v.size());
  EXPECT_TRUE(s.channel_max_abs().empty());
  EXPECT_TRUE(TensorStats(16).channel_max_abs().empty());
  // A view with nothing in it still has its channels, at 0.
  TensorStats e(16);
  e.add(ActivationView{v.data(), 3, 0, 1, 1, 1});
  EXPECT_EQ(e.channel_max_abs(), std::vector<float>(3, 0.0f));
  // Another channel count for the same tensor is a programming error. "threadsafe": the child re-runs this test
  // alone; a fork of this process, whose OpenMP threads are gone in the child, could hang in a parallel region.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TensorStats mixed(16);
  mixed.add(ActivationView{v.data(), 3, 1, 1, 1, 1});
  EXPECT_EQ(mixed.channel_max_abs(), (std::vector<float>{2.0f, 0.5f, 1.0f}));
  EXPECT_DEATH(mixed.add(ActivationView{v.data(), 2, 1, 1, 1, 1}), "internal error");
}

TEST(Thresholds, UniformNeedsNoClipping) {
  const std::vector<float> v = uniform(200000, -1.0f, 1.0f, 3);
  const TensorStats s = stats_of(v);
  EXPECT_EQ(compute_threshold(s, Method::kMinMax), s.max_abs());
  EXPECT_NEAR(compute_threshold(s, Method::kPercentile), 0.9999f, 2e-3f);
  // Clipping a uniform distribution only adds error: kl and mse stay near the top.
  EXPECT_GT(compute_threshold(s, Method::kKl), 0.9f);
  EXPECT_GT(compute_threshold(s, Method::kMse), 0.95f);
  for (Method m : kAll) EXPECT_LE(compute_threshold(s, m), s.max_abs()) << method_name(m);
}

TEST(Thresholds, PercentileOption) {
  const TensorStats s = stats_of(uniform(100000, 0.0f, 10.0f, 4));
  MethodOptions o;
  o.percentile = 50;
  EXPECT_NEAR(compute_threshold(s, Method::kPercentile, o), 5.0f, 0.1f);
  o.percentile = 100;
  EXPECT_EQ(compute_threshold(s, Method::kPercentile, o), s.max_abs());
}

TEST(Thresholds, GaussianWithOutliersIsClipped) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(200000);
  for (float& x : v) x = normal(rng);
  const std::vector<float> body = v;
  v[10] = 60.0f;  // a few far outliers set max|x|
  v[20] = -45.0f;
  v[30] = 50.0f;
  const TensorStats s = stats_of(v);
  EXPECT_EQ(compute_threshold(s, Method::kMinMax), 60.0f);
  // kl and percentile look at the shape of the distribution: they clip the outliers and keep the body.
  for (Method m : {Method::kPercentile, Method::kKl}) {
    const float t = compute_threshold(s, m);
    EXPECT_GT(t, 2.5f) << method_name(m);
    EXPECT_LT(t, 10.0f) << method_name(m);
    EXPECT_LT(quant_mse(body, t), 0.1 * quant_mse(body, 60.0f)) << method_name(m);
  }
  // mse weighs the outliers' own clipping error too: it clips (less), and its threshold is the best of all
  // methods by the measure it minimises.
  const float t_mse = compute_threshold(s, Method::kMse);
  EXPECT_LT(t_mse, 60.0f);
  for (Method m : kAll) EXPECT_LE(quant_mse(v, t_mse), 1.02 * quant_mse(v, compute_threshold(s, m))) << method_name(m);
}

TEST(Thresholds, MseIsNearTheTrueOptimum) {
  std::mt19937 rng(6);
  std::exponential_distribution<float> expo(1.0f);  // heavy right tail: clipping pays
  std::vector<float> v(100000);
  for (float& x : v) x = expo(rng);
  const TensorStats s = stats_of(v);
  double best = INFINITY;
  for (float t = 0.5f; t <= s.max_abs(); t += 0.05f) best = std::min(best, quant_mse(v, t));
  const float t = compute_threshold(s, Method::kMse);
  EXPECT_LT(quant_mse(v, t), best * 1.05) << "t = " << t;
}

TEST(Thresholds, AllZeroGivesZero) {
  const TensorStats s = stats_of(std::vector<float>(1000, 0.0f));
  for (Method m : kAll) EXPECT_EQ(compute_threshold(s, m), 0.0f) << method_name(m);
  const TensorStats empty(64);
  for (Method m : kAll) EXPECT_EQ(compute_threshold(empty, m), 0.0f) << method_name(m);
}

TEST(Thresholds, FewBinsInUse) {
  TensorStats s(64);  // fewer bins than kl's 128 levels: no clipping
  const std::vector<float> v = uniform(1000, 0.0f, 2.0f, 7);
  s.add(v.data(), v.size());
  EXPECT_EQ(compute_threshold(s, Method::kKl), s.max_abs());
}

TEST(Methods, NamesRoundTrip) {
  for (Method m : kAll) {
    Method back;
    ASSERT_TRUE(parse_method(method_name(m), &back));
    EXPECT_EQ(back, m);
  }
  Method m;
  EXPECT_FALSE(parse_method("entropy", &m));
}

}  // namespace
}  // namespace resr::quant
