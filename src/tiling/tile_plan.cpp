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

}  // namespace

Result<TilePlan> plan_tiles(int width, int height, int tile, int pad) {
  if (width < 1 || height < 1)
    return Status::error("cannot tile an empty image (" + std::to_string(width) + "x" + std::to_string(height) + ")");
  if (tile < 1) return Status::error("tile size must be at least 1, got " + std::to_string(tile));
  if (pad < 0) return Status::error("tile padding must not be negative, got " + std::to_string(pad));
  TilePlan plan;
  plan.width = width;
  plan.height = height;
  plan.tile = tile;
  plan.pad = pad;
  plan.columns = (width + tile - 1) / tile;
  plan.rows = (height + tile - 1) / tile;
  const std::vector<int> xs = balanced_cuts(width, plan.columns);
  const std::vector<int> ys = balanced_cuts(height, plan.rows);
  plan.tiles.reserve(std::size_t(plan.columns) * plan.rows);
  for (int r = 0; r < plan.rows; ++r) {
    for (int c = 0; c < plan.columns; ++c) {
      Tile t;
      t.core = Rect{xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r]};
      const int x0 = std::max(0, t.core.x - pad), y0 = std::max(0, t.core.y - pad);
      const int x1 = std::min(width, t.core.x + t.core.w + pad), y1 = std::min(height, t.core.y + t.core.h + pad);
      t.input = Rect{x0, y0, x1 - x0, y1 - y0};
      plan.tiles.push_back(t);
    }
  }
  return plan;
}

}  // namespace resr::tiling
