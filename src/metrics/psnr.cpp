#include "metrics/psnr.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "metrics/colour_pair.h"

namespace resr::metrics {
namespace {

double sample(const Image& img, std::size_t i) {
  return img.bits == 16 ? img.sample16(i) / 65535.0 : img.bytes[i] / 255.0;
}

Status check_pair(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height)
    return Status::error("sizes differ: " + std::to_string(a.width) + "x" + std::to_string(a.height) + " vs " +
                         std::to_string(b.width) + "x" + std::to_string(b.height));
  if (a.width < 1 || a.height < 1) return Status::error("empty image");
  return {};
}

// Sum of squared errors and count over a rectangle of a pair of as many colours (ColourPair).
void accumulate(const Image& a, const Image& b, int x0, int y0, int x1, int y1, const PsnrOptions& o, double& sse,
                std::size_t& n) {
  const int colour = colour_channels(a);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const std::size_t pixel = std::size_t(y) * a.width + x;
      const std::size_t base_a = pixel * a.channels, base_b = pixel * b.channels;  // alpha may be in one
      if (o.y_channel && colour == 3) {
        auto luma = [](const Image& img, std::size_t base) {
          return (65.481 * sample(img, base) + 128.553 * sample(img, base + 1) + 24.966 * sample(img, base + 2) +
                  16.0) /
                 255.0;
        };
        const double d = luma(a, base_a) - luma(b, base_b);
        sse += d * d;
        ++n;
      } else {
        for (int c = 0; c < colour; ++c) {
          const double d = sample(a, base_a + c) - sample(b, base_b + c);
          sse += d * d;
          ++n;
        }
      }
    }
}

double to_db(double sse, std::size_t n) {
  if (sse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(1.0 / (sse / double(n)));
}

}  // namespace

Result<double> psnr(const Image& in_a, const Image& in_b, const PsnrOptions& o) {
  RESR_RETURN_IF_ERROR(check_pair(in_a, in_b));
  const ColourPair pair(in_a, in_b, o.y_channel);
  const Image &a = pair.a(), &b = pair.b();
  const int c = o.crop_border;
  // In 64 bits: 2 * c overflows int for borders past 2^30 (a negative border is an error too).
  if (c < 0 || 2 * std::int64_t(c) >= a.width || 2 * std::int64_t(c) >= a.height)
    return Status::error("crop border leaves nothing to compare");
  double sse = 0;
  std::size_t n = 0;
  accumulate(a, b, c, c, a.width - c, a.height - c, o, sse, n);
  return to_db(sse, n);
}

Result<BlockPsnr> worst_block_psnr(const Image& in_a, const Image& in_b, int block, const PsnrOptions& o) {
  RESR_RETURN_IF_ERROR(check_pair(in_a, in_b));
  const ColourPair pair(in_a, in_b, o.y_channel);
  const Image &a = pair.a(), &b = pair.b();
  if (block < 1) return Status::error("block size must be at least 1");
  BlockPsnr r;
  r.worst_db = std::numeric_limits<double>::infinity();
  for (int y = 0; y < a.height; y += block)
    for (int x = 0; x < a.width; x += block) {
      double sse = 0;
      std::size_t n = 0;
      accumulate(a, b, x, y, std::min(a.width, x + block), std::min(a.height, y + block), o, sse, n);
      const double db = to_db(sse, n);
      ++r.blocks;
      if (db < r.worst_db || r.blocks == 1) {
        r.worst_db = db;
        r.worst_x = x;
        r.worst_y = y;
      }
    }
  return r;
}

}  // namespace resr::metrics
