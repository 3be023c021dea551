// Separable resampling in the scheme of PIL's ImagingResample and MATLAB imresize: per axis, every output sample
// gets a list of input taps with normalised weights; kernels are evaluated at (tap centre - output centre) /
// max(scale, 1), so downscaling widens them (antialiasing). Lanczos3: sinc(x) sinc(x / 3) on |x| < 3; bicubic:
// Keys, "Cubic convolution interpolation for digital image processing" (1981), a = -0.5; area: exact overlap of
// the output pixel's footprint with each input pixel. Input rows are filtered horizontally as they arrive into a
// ring of float rows as tall as the vertical kernel; an output row is combined vertically from it once its last row
// is in (RowResampler; resize_image pushes the whole image at once).
#include "image/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <vector>

#include "core/status.h"

namespace resr {
namespace {

// Below this filtered alpha the output alpha rounds to 0 even at 16 bits: colour is undefined there.
constexpr float kMinAlpha = 0.5f / 65535.0f;

// Output o reads taps [first[o], first[o + 1]) of `index` (clamped input positions) and `weight` (sum 1).
struct Taps {
  std::vector<std::size_t> first{0};
  std::vector<int> index;
  std::vector<float> weight;
  int max_span = 1;  // the most input positions (max - min + 1) one output spans
};

double sinc(double x) {
  if (x == 0) return 1;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos3(double x) {
  x = std::abs(x);
  return x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

double keys_cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

class TapBuilder {
 public:
  TapBuilder(Taps& taps, int in_size) : taps_(taps), in_size_(in_size) {}
  void add(std::int64_t j, double w) {
    int idx = int(std::clamp<std::int64_t>(j, 0, in_size_ - 1));
    if (taps_.index.size() > taps_.first.back() && taps_.index.back() == idx) {
      sum_.back() += w;  // clamped edge taps landing on the same pixel merge into one
      return;
    }
    taps_.index.push_back(idx);
    sum_.push_back(w);
  }
  void finish() {
    double total = 0;
    for (double w : sum_) total += w;
    if (total == 0) total = 1;
    for (double w : sum_) taps_.weight.push_back(float(w / total));
    std::size_t begin = taps_.first.back();
    auto [lo, hi] = std::minmax_element(taps_.index.begin() + std::ptrdiff_t(begin), taps_.index.end());
    taps_.max_span = std::max(taps_.max_span, *hi - *lo + 1);
    taps_.first.push_back(taps_.index.size());
    sum_.clear();
  }

 private:
  Taps& taps_;
  int in_size_;
  std::vector<double> sum_;
};

Taps make_taps(int in, int out, ResizeFilter filter) {
  Taps taps;
  TapBuilder b(taps, in);
  const double scale = double(in) / out;
  for (int o = 0; o < out; ++o) {
    const double centre = (o + 0.5) * scale;  // input pixel j covers [j, j + 1)
    if (in == out) {
      b.add(o, 1);
    } else if (filter == ResizeFilter::kNearest) {
      b.add(std::int64_t(std::floor(centre)), 1);
    } else if (filter == ResizeFilter::kArea) {
      const double lo = double(o) * in / out, hi = double(o + 1) * in / out;
      for (auto j = std::int64_t(std::floor(lo)); double(j) < hi; ++j) {
        double overlap = std::min(hi, double(j + 1)) - std::max(lo, double(j));
        if (overlap > 0) b.add(j, overlap);
      }
    } else {
      const bool lanczos = filter == ResizeFilter::kLanczos3;
      const double stretch = std::max(scale, 1.0);
      const double support = (lanczos ? 3.0 : 2.0) * stretch;
      const auto j0 = std::int64_t(std::ceil(centre - support - 0.5));
      const auto j1 = std::int64_t(std::floor(centre + support - 0.5));
      for (std::int64_t j = j0; j <= j1; ++j) {
        double x = (double(j) + 0.5 - centre) / stretch;
        double w = lanczos ? lanczos3(x) : keys_cubic(x);
        if (w != 0) b.add(j, w);
      }
      if (taps.index.size() == taps.first.back()) b.add(std::int64_t(std::floor(centre)), 1);
    }
    b.finish();
  }
  return taps;
}

// Row y of `in` as floats in [0, 1], colour premultiplied by alpha when the image has alpha.
void load_row(const Image& in, int y, std::vector<float>& row) {
  const std::size_t n = std::size_t(in.width) * in.channels;
  const std::size_t base = std::size_t(y) * n;
  if (in.bits == 8) {
    for (std::size_t i = 0; i < n; ++i) row[i] = float(in.bytes[base + i]) * (1.0f / 255.0f);
  } else {
    for (std::size_t i = 0; i < n; ++i) row[i] = float(in.sample16(base + i)) * (1.0f / 65535.0f);
  }
  if (!in.has_alpha()) return;
  const int c_alpha = in.channels - 1;
  for (std::size_t p = 0; p < std::size_t(in.width); ++p) {
    float* px = &row[p * std::size_t(in.channels)];
    for (int c = 0; c < c_alpha; ++c) px[c] *= px[c_alpha];
  }
}

void filter_row(const float* src, int channels, const Taps& tx, float* dst) {
  const std::size_t out = tx.first.size() - 1;
  for (std::size_t o = 0; o < out; ++o) {
    float acc[4] = {0, 0, 0, 0};
    for (std::size_t t = tx.first[o]; t < tx.first[o + 1]; ++t) {
      const float w = tx.weight[t];
      const float* s = src + std::size_t(tx.index[t]) * channels;
      for (int c = 0; c < channels; ++c) acc[c] += w * s[c];
    }
    for (int c = 0; c < channels; ++c) dst[o * channels + c] = acc[c];
  }
}

float clamp01(float v) {
  return v > 0 ? (v < 1 ? v : 1) : 0;
}  // NaN -> 0

// Un-premultiplies, clamps and rounds one row of filtered samples into output row y.
void store_row(const float* acc, bool alpha, Image& out, int y) {
  const int channels = out.channels;
  const float max = out.bits == 16 ? 65535.0f : 255.0f;
  const std::size_t n = std::size_t(out.width) * channels;
  std::uint8_t* dst = out.bytes.data() + std::size_t(y) * n * std::size_t(out.bits / 8);
  for (std::size_t p = 0; p < std::size_t(out.width); ++p) {
    const float* px = acc + p * channels;
    const float a = px[channels - 1];
    for (int c = 0; c < channels; ++c) {
      float v = px[c];
      if (alpha && c < channels - 1) v = a > kMinAlpha ? v / a : 0.0f;
      const auto q = std::uint16_t(clamp01(v) * max + 0.5f);  // NOLINT(bugprone-incorrect-roundings): half up, >= 0
      const std::size_t i = p * channels + c;
      if (out.bits == 8) {
        dst[i] = std::uint8_t(q);
      } else {
        std::memcpy(dst + 2 * i, &q, 2);
      }
    }
  }
}

// Same size: exact copy, with 8 <-> 16 bit conversion (v * 257, or v / 257 rounded to nearest).
void copy_samples(const Image& in, Image& out) {
  if (in.bits == out.bits) {
    out.bytes = in.bytes;
    return;
  }
  for (std::size_t i = 0; i < in.sample_count(); ++i) {
    if (out.bits == 8) {
      out.bytes[i] = std::uint8_t((std::uint32_t{in.sample16(i)} * 255u + 32767u) / 65535u);
    } else {
      const auto v = std::uint16_t(in.bytes[i] * 257u);
      std::memcpy(out.bytes.data() + 2 * i, &v, 2);
    }
  }
}

}  // namespace

// Output row oy reads input rows first..last of `ty` (its taps are in increasing order, clamped, so the last is the
// largest); it is written once row last has been pushed.
struct RowResampler::State {
  Taps tx, ty;
  int channels = 0;
  bool alpha = false;
  std::vector<char> needed;  // input rows some output row reads (a nearest downscale skips the rest)
  std::vector<float> line, ring, acc;
  std::size_t ring_rows = 1, out_row = 0;
};

RowResampler::RowResampler(int in_w, int in_h, Image& out, ResizeFilter filter)
    : state_(std::make_unique<State>()), out_(out) {
  RESR_ASSERT(in_w >= 1 && in_h >= 1 && out.width >= 1 && out.height >= 1 && out.channels >= 1 && out.channels <= 4);
  RESR_ASSERT((out.bits == 8 || out.bits == 16) && out.bytes.size() == out.sample_count() * std::size_t(out.bits / 8));
  RESR_ASSERT(in_w != out.width || in_h != out.height);
  State& st = *state_;
  st.tx = make_taps(in_w, out.width, filter);
  st.ty = make_taps(in_h, out.height, filter);
  st.channels = out.channels;
  st.alpha = out.has_alpha();
  st.needed.assign(std::size_t(in_h), 0);
  for (int y : st.ty.index) st.needed[std::size_t(y)] = 1;
  st.out_row = std::size_t(out.width) * std::size_t(out.channels);
  st.line.resize(std::size_t(in_w) * std::size_t(out.channels));
  // Horizontally filtered input rows; row y lives in slot y % ring_rows. An output row is written as soon as its
  // last row arrives, and its taps span at most ring_rows consecutive rows, so none it reads has been evicted.
  st.ring_rows = std::size_t(st.ty.max_span);
  st.ring.resize(st.ring_rows * st.out_row);
  st.acc.resize(st.out_row);
}

RowResampler::~RowResampler() = default;

void RowResampler::push(const Image& band, int first, int count) {
  State& st = *state_;
  const int in_h = int(st.needed.size());
  RESR_ASSERT(band.channels == st.channels && std::size_t(band.width) * std::size_t(band.channels) == st.line.size());
  RESR_ASSERT(first >= 0 && count >= 0 && first + count <= band.height && pushed_ + count <= in_h);
  for (int i = 0; i < count; ++i) {
    const int y = pushed_++;
    if (st.needed[std::size_t(y)] == 0) continue;
    load_row(band, first + i, st.line);
    filter_row(st.line.data(), st.channels, st.tx, &st.ring[std::size_t(y) % st.ring_rows * st.out_row]);
    // Every output row whose last input row this is.
    while (written_ < out_.height && st.ty.index[st.ty.first[std::size_t(written_) + 1] - 1] <= y) {
      std::fill(st.acc.begin(), st.acc.end(), 0.0f);
      for (std::size_t t = st.ty.first[std::size_t(written_)]; t < st.ty.first[std::size_t(written_) + 1]; ++t) {
        const float w = st.ty.weight[t];
        const float* row = &st.ring[std::size_t(st.ty.index[t]) % st.ring_rows * st.out_row];
        for (std::size_t k = 0; k < st.out_row; ++k) st.acc[k] += w * row[k];
      }
      store_row(st.acc.data(), st.alpha, out_, written_++);
    }
  }
}

Image resize_image(const Image& in, int out_w, int out_h, ResizeFilter filter, int out_bits) {
  RESR_ASSERT(in.channels >= 1 && in.channels <= 4 && (in.bits == 8 || in.bits == 16));
  RESR_ASSERT(in.width >= 1 && in.height >= 1 && in.bytes.size() == in.sample_count() * std::size_t(in.bits / 8));
  RESR_ASSERT(out_w >= 1 && out_h >= 1 && (out_bits == 8 || out_bits == 16));
  Image out;
  out.width = out_w;
  out.height = out_h;
  out.channels = in.channels;
  out.bits = out_bits;
  carry_metadata(in, out);
  out.bytes.resize(out.sample_count() * std::size_t(out_bits / 8));
  if (out_w == in.width && out_h == in.height) {
    copy_samples(in, out);
    return out;
  }
  RowResampler resampler(in.width, in.height, out, filter);
  resampler.push(in, 0, in.height);
  return out;
}

}  // namespace resr
