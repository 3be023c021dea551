#include "quant/activation_stats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/status.h"

namespace resr::quant {
namespace {

// The smallest power of two >= x (x > 0).
double pow2_ceil(double x) {
  int e;
  const double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  return m == 0.5 ? x : std::ldexp(1.0, e);
}

// Adds `src` (range src_range, 0 or a power of two) into `dst` (range dst_range >= src_range, a power of two):
// each dst bin takes dst_range / src_range whole src bins. In place (src == dst) too: i / f <= i, so no bin
// is read after it was written.
void merge_bins(std::vector<std::uint64_t>& dst, double dst_range, std::vector<std::uint64_t>& src, double src_range) {
  const std::size_t n = dst.size();
  const double ratio = src_range > 0 ? dst_range / src_range : 1.0;  // a range of 0 holds only zeros, in bin 0
  const std::size_t f = ratio >= double(n) ? n : static_cast<std::size_t>(ratio);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t c = src[i];
    if (&src == &dst) src[i] = 0;
    dst[std::min(i / f, n - 1)] += c;
  }
}

// Grows `range` to cover max_abs (> 0), merging the bins in place.
void grow(std::vector<std::uint64_t>& hist, double& range, double max_abs) {
  if (max_abs <= range) return;
  const double next = pow2_ceil(max_abs);
  if (range > 0) merge_bins(hist, next, hist, range);
  range = next;
}

}  // namespace

TensorStats::TensorStats(int bins) : hist_(static_cast<std::size_t>(bins), 0) {
  RESR_ASSERT(bins >= 2 && (bins & (bins - 1)) == 0);
}

// One pass over the rows, split over the OpenMP threads in dynamic chunks (a thread that loses its core to
// another process does not hold the others up). Each thread keeps its own histogram; a row's extent is found
// first, while the row is in cache, so that the thread's range covers it before it is binned. The threads'
// histograms are then merged: all ranges are powers of two, so they line up bin for bin. The per-channel maxima
// come from the same row extents, per thread, and are merged by max (the same whatever the split).
template <class RowFn>
void TensorStats::scan(int rows, int rows_per_channel, RowFn row) {
  const std::size_t bins = hist_.size();
  const std::size_t channels = rows_per_channel > 0 ? channel_max_.size() : 0;
#pragma omp parallel
  {
    std::vector<std::uint64_t> local(bins, 0);
    std::vector<float> local_channel_max(channels, 0.0f);
    double range = 0;
    float lo = FLT_MAX, hi = -FLT_MAX;
    std::uint64_t finite = 0;
#pragma omp for schedule(dynamic, 16) nowait
    for (int r = 0; r < rows; ++r) {
      const auto [p, n] = row(r);
      float rlo = FLT_MAX, rhi = -FLT_MAX;
      for (std::size_t i = 0; i < n; ++i) {  // the comparisons skip NaN
        rlo = p[i] < rlo ? p[i] : rlo;
        rhi = rhi < p[i] ? p[i] : rhi;
      }
      if (std::isinf(rlo) || std::isinf(rhi)) {  // rare: the extent of the finite values only
        rlo = FLT_MAX;
        rhi = -FLT_MAX;
        for (std::size_t i = 0; i < n; ++i)
          if (std::isfinite(p[i])) rlo = std::min(rlo, p[i]), rhi = std::max(rhi, p[i]);
      }
      if (rlo > rhi) continue;  // nothing finite in this row
      lo = std::min(lo, rlo);
      hi = std::max(hi, rhi);
      const float row_max = std::max(std::fabs(rlo), std::fabs(rhi));
      if (channels > 0) {
        float& m = local_channel_max[std::size_t(r / rows_per_channel)];
        m = std::max(m, row_max);
      }
      if (row_max > 0) grow(local, range, row_max);
      // bins / range is a power of two, so the scaling is exact; in float unless it would overflow there.
      const double per_unit = range > 0 ? double(bins) / range : 0.0;
      if (per_unit < 0x1p100) {
        const float scale = float(per_unit);
        const std::uint32_t last = std::uint32_t(bins - 1);
        for (std::size_t i = 0; i < n; ++i) {
          const float a = std::fabs(p[i]);
          if (!(a <= FLT_MAX)) continue;  // NaN or inf
          ++local[std::min(static_cast<std::uint32_t>(a * scale), last)];
          ++finite;
        }
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          const float a = std::fabs(p[i]);
          if (!(a <= FLT_MAX)) continue;
          ++local[std::min(static_cast<std::size_t>(double(a) * per_unit), bins - 1)];
          ++finite;
        }
      }
    }
#pragma omp critical
    {
      for (std::size_t c = 0; c < channels; ++c) channel_max_[c] = std::max(channel_max_[c], local_channel_max[c]);
      if (finite > 0) {
        min_ = count_ ? std::min(min_, lo) : lo;
        max_ = count_ ? std::max(max_, hi) : hi;
        max_abs_ = std::max({max_abs_, std::fabs(lo), std::fabs(hi)});
        count_ += finite;
        if (range > 0) grow(hist_, range_, range);
        merge_bins(hist_, range_, local, range);
      }
    }
  }
}

void TensorStats::add(const float* data, std::size_t n) {
  constexpr std::size_t kChunk = 4096;  // rows of the scan: cache-sized, and long arrays split over threads
  const int rows = static_cast<int>((n + kChunk - 1) / kChunk);
  scan(rows, 0, [&](int r) {
    const std::size_t begin = std::size_t(r) * kChunk;
    return std::pair<const float*, std::size_t>(data + begin, std::min(kChunk, n - begin));
  });
}

void TensorStats::add(const ActivationView& v) {
  RESR_ASSERT(v.c >= 0 && v.h >= 0 && v.w >= 0);
  if (channel_max_.empty()) channel_max_.assign(std::size_t(v.c), 0.0f);
  RESR_ASSERT(channel_max_.size() == std::size_t(v.c));  // one channel count per tensor
  scan(v.c * v.h, v.h, [&](int r) {
    const float* p = v.data + std::size_t(r / v.h) * v.channel_stride + std::size_t(r % v.h) * v.row_stride;
    return std::pair<const float*, std::size_t>(p, std::size_t(v.w));
  });
}

void ActivationStats::observe(int value, const ActivationView& view) {
  std::uint64_t& last = last_sample_[value];
  if (last == sample_ && tensors_.count(value)) return;
  last = sample_;
  tensors_.try_emplace(value, bins_).first->second.add(view);
}

}  // namespace resr::quant
