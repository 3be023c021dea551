#include "quant/tile_sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace resr::quant {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, the same sequence everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n >= 1 (the modulo bias is below 2^-40 for the sizes used here).
  int below(int n) { return static_cast<int>(next() % std::uint64_t(n)); }

 private:
  std::uint64_t s_;
};

template <class T>
void shuffle(std::vector<T>& v, SplitMix64& rng) {  // Fisher-Yates
  for (int i = static_cast<int>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[rng.below(i + 1)]);
}

}  // namespace

std::vector<TileChoice> choose_tiles(const std::vector<std::pair<int, int>>& sizes, int count, int tile,
                                     std::uint64_t seed) {
  std::vector<TileChoice> out;
  const int images = static_cast<int>(sizes.size());
  if (images == 0 || count <= 0) return out;
  SplitMix64 rng(seed);
  std::vector<int> per_image(images, count / images);
  std::vector<int> order(images);
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, rng);
  for (int k = 0; k < count % images; ++k) ++per_image[order[k]];
  for (int i = 0; i < images; ++i) {
    const int n = per_image[i];
    if (n == 0) continue;
    const int tw = std::min(tile, sizes[i].first), th = std::min(tile, sizes[i].second);
    const int rx = sizes[i].first - tw + 1, ry = sizes[i].second - th + 1;  // possible corners per axis
    // A gx x gy grid of cells with gx / gy close to rx / ry and gx * gy >= n.
    const double aspect = double(rx) / double(ry);
    int gx = std::clamp(static_cast<int>(std::lround(std::sqrt(n * aspect))), 1, std::min(n, rx));
    int gy = std::min(ry, (n + gx - 1) / gx);
    if (gx * gy < n) gx = std::min(rx, (n + gy - 1) / gy);
    std::vector<int> cells(std::size_t(gx) * gy);
    std::iota(cells.begin(), cells.end(), 0);
    for (int k = 0; k < n; ++k) {
      if (k % static_cast<int>(cells.size()) == 0) shuffle(cells, rng);
      const int c = cells[k % cells.size()];
      const int cx = c % gx, cy = c / gx;
      // Cell cx covers corners [cx * rx / gx, (cx + 1) * rx / gx).
      const int x0 = int(std::int64_t(cx) * rx / gx), x1 = int(std::int64_t(cx + 1) * rx / gx);
      const int y0 = int(std::int64_t(cy) * ry / gy), y1 = int(std::int64_t(cy + 1) * ry / gy);
      const int x = x0 + rng.below(std::max(1, x1 - x0)), y = y0 + rng.below(std::max(1, y1 - y0));
      out.push_back(TileChoice{i, tiling::Rect{x, y, tw, th}});
    }
  }
  return out;
}

}  // namespace resr::quant
