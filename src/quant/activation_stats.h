// Activation statistics for calibration: per graph value, the running min / max and a histogram of |x|,
// fed by the backends' ActivationObserver (backends/executable.h) with every Conv2d input of every run.
//
//   ActivationStats stats;
//   exe->set_observer(stats.observer());
//   for (tile : tiles) { stats.begin_sample(); exe->run(tile); }
//   float t = compute_threshold(stats.tensors().at(value), Method::kKl);   // threshold_methods.h
//
// Every element is counted (no sub-sampling), in one pass over memory split over the OpenMP threads (the
// observer runs between convolutions, while they are idle). Non-finite elements are skipped (not counted).
// Histogram: `bins` equal bins over [0, range), where range is the smallest power of two >= max|x| (0 until a
// non-zero value was seen); |x| lands in bin floor(|x| * bins / range), a value equal to range in the last
// one, zeros in bin 0. When a larger value arrives the range doubles as often as needed and each new bin is the
// sum of 2^k old ones. Scaling by a power of two is exact, so the histogram is the same however the data was
// split into batches, rows or threads; the bins in use are between half and all of them.
// Per channel: views (not flat arrays) also give the largest finite |x| of each channel, found in the same pass
// (0 for a channel with nothing finite). Every view of one tensor must have the same channel count.
// Threads: not thread-safe (one observer call at a time); the backends call it from the thread running the
// executable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "backends/executable.h"

namespace resr::quant {

class TensorStats {
 public:
  explicit TensorStats(int bins = 2048);  // bins: a power of two >= 2

  void add(const float* data, std::size_t n);
  void add(const ActivationView& view);

  std::uint64_t count() const { return count_; }
  float min() const { return count_ ? min_ : 0.0f; }  // 0 when nothing was counted
  float max() const { return count_ ? max_ : 0.0f; }
  float max_abs() const { return max_abs_; }
  // The largest |x| of each channel over the views added; empty if only flat arrays were.
  const std::vector<float>& channel_max_abs() const { return channel_max_; }
  double range() const { return range_; }  // 0 until a non-zero value was seen, then a power of two
  double bin_width() const { return range_ / double(hist_.size()); }
  const std::vector<std::uint64_t>& histogram() const { return hist_; }

 private:
  // rows_per_channel > 0: row r is in channel r / rows_per_channel of channel_max_; 0: no channels.
  template <class RowFn>
  void scan(int rows, int rows_per_channel, RowFn row);

  std::vector<std::uint64_t> hist_;
  std::vector<float> channel_max_;
  double range_ = 0;
  float min_ = 0, max_ = 0, max_abs_ = 0;
  std::uint64_t count_ = 0;
};

class ActivationStats {
 public:
  explicit ActivationStats(int bins = 2048) : bins_(bins) {}

  // Starts a new sample (one run of the model): a value observed twice in one run is counted once.
  void begin_sample() { ++sample_; }
  void observe(int value, const ActivationView& view);
  // An observer bound to this object (which must outlive the executable's use of it).
  ActivationObserver observer() {
    return [this](int value, const ActivationView& view) { observe(value, view); };
  }

  const std::map<int, TensorStats>& tensors() const { return tensors_; }  // by graph value id

 private:
  int bins_;
  std::uint64_t sample_ = 0;
  std::map<int, TensorStats> tensors_;
  std::map<int, std::uint64_t> last_sample_;
};

}  // namespace resr::quant
