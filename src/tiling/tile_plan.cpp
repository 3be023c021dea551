#include "tiling/tile_plan.h"

#include <algorithm>
#include <string>

namespace resr::tiling {
namespace {

// Splits [0, length) into `count` nearly equal consecutive spans; returns their starts plus `length`.
std::vector<int> balanced_cuts(int length, int count) {
  std::vector<int> cuts(count + 1);
  for (int i = 0; i <= count; ++i) cuts[i] = static_cast<int>((static_cast<long long>(length) * i) / count);
  return cuts;
}

// Pixels of context-grown spans when [0, length) is cut into `count` balanced cores, and the largest span.
std::pair<long long, int> grown_spans(int length, int count, int pad) {
  const std::vector<int> cuts = balanced_cuts(length, count);
  long long sum = 0;
  int largest = 0;
  for (int i = 0; i < count; ++i) {
    const int span = std::min(length, cuts[i + 1] + pad) - std::max(0, cuts[i] - pad);
    sum += span;
    largest = std::max(largest, span);
  }
  return {sum, largest};
}

// Grows each [begin, end) to the longest one's length, inward from the image's edge: every tile's input then has one
// size (a GPU backend plans, searches and captures per input size; edge tiles had less context and balanced cores
// differ by a pixel, so a tiled image took up to 9 sizes). The spans stay aligned where `length` is a multiple of
// `align`; otherwise they are left as they are.
void equalize_spans(std::vector<std::pair<int, int>>& spans, int length, int align) {
  if (length % align != 0) return;
  int longest = 0;
  for (const auto& [begin, end] : spans) longest = std::max(longest, end - begin);
  for (auto& [begin, end] : spans) {
    begin = std::min(begin, length - longest);
    end = begin + longest;
  }
}

}  // namespace

Result<TileGrid> choose_tile_grid(int width, int height, int pad, const std::function<bool(int w, int h)>& fits) {
  if (width < 1 || height < 1) return Status::error("cannot tile an empty image");
  TileGrid best;
  const int max_columns = std::min(width, kMaxTileColumns);
  for (int columns = 1; columns <= max_columns; ++columns) {
    const auto [sum_w, input_w] = grown_spans(width, columns, pad);
    // Fewest rows whose tiles fit (fits is monotone in the tile height).
    int lo = 1, hi = height;
    if (!fits(input_w, grown_spans(height, hi, pad).second)) continue;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (fits(input_w, grown_spans(height, mid, pad).second))
        hi = mid;
      else
        lo = mid + 1;
    }
    const auto [sum_h, input_h] = grown_spans(height, lo, pad);
    (void)input_h;
    const double area = double(sum_w) * double(sum_h);
    if (best.tile_w == 0 || area < best.model_area) {
      best.tile_w = (width + columns - 1) / columns;
      best.tile_h = (height + lo - 1) / lo;
      best.model_area = area;
    }
  }
  if (best.tile_w == 0) return Status::error("no tile size fits the memory budget");
  return best;
}

Result<TilePlan> plan_tiles(int width, int height, int tile_w, int tile_h, int pad, int align, bool uniform_inputs) {
  if (width < 1 || height < 1)
    return Status::error("cannot tile an empty image (" + std::to_string(width) + "x" + std::to_string(height) + ")");
  if (tile_w < 1 || tile_h < 1)
    return Status::error("tile size must be at least 1, got " + std::to_string(std::min(tile_w, tile_h)));
  if (pad < 0) return Status::error("tile padding must not be negative, got " + std::to_string(pad));
  if (align < 1) return Status::error("tile alignment must be at least 1, got " + std::to_string(align));
  TilePlan plan;
  plan.width = width;
  plan.height = height;
  plan.tile_w = tile_w;
  plan.tile_h = tile_h;
  plan.pad = pad;
  plan.columns = (width + tile_w - 1) / tile_w;
  plan.rows = (height + tile_h - 1) / tile_h;
  const std::vector<int> xs = balanced_cuts(width, plan.columns);
  const std::vector<int> ys = balanced_cuts(height, plan.rows);
  // Each axis's input spans: the core grown by pad, aligned, inside the image; then, if asked, all of one length.
  auto input_spans = [pad, align, uniform_inputs](const std::vector<int>& cuts, int length) {
    std::vector<std::pair<int, int>> spans;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
      const int begin = std::max(0, cuts[i] - pad) / align * align;
      const long long grown = static_cast<long long>(cuts[i + 1]) + pad;
      spans.emplace_back(begin, static_cast<int>(std::min<long long>(length, (grown + align - 1) / align * align)));
    }
    if (uniform_inputs) equalize_spans(spans, length, align);
    return spans;
  };
  const std::vector<std::pair<int, int>> in_x = input_spans(xs, width), in_y = input_spans(ys, height);
  plan.tiles.reserve(std::size_t(plan.columns) * plan.rows);
  for (int r = 0; r < plan.rows; ++r) {
    for (int c = 0; c < plan.columns; ++c) {
      Tile t;
      t.core = Rect{xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r]};
      t.input = Rect{in_x[c].first, in_y[r].first, in_x[c].second - in_x[c].first, in_y[r].second - in_y[r].first};
      plan.tiles.push_back(t);
    }
  }
  return plan;
}

}  // namespace resr::tiling
