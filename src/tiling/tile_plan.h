// Tile planner: cuts an image into tiles whose cores partition it, each grown by `pad` context pixels
// (clamped at the image border, where the model's own zero padding takes over, as on the whole image).
//
//   TilePlan plan = plan_tiles(510, 408, /*tile=*/200, /*pad=*/34);
//   for (const Tile& t : plan.tiles)  run the model on t.input, keep the output of t.core (see crop_in_output)
//
// Cores are balanced (sizes differ by at most one pixel per axis), so there are no sliver tiles.
// Pure function: no I/O, no allocation beyond the result.
#pragma once

#include <vector>

#include "core/status.h"

namespace resr::tiling {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  friend bool operator==(const Rect&, const Rect&) = default;
};

struct Tile {
  Rect core;   // input pixels whose output this tile provides
  Rect input;  // the region fed to the model: core plus context, inside the image
  // Where the core's output lies inside the model output of `input`, for a model of integer `scale`.
  Rect crop_in_output(int scale) const {
    return Rect{(core.x - input.x) * scale, (core.y - input.y) * scale, core.w * scale, core.h * scale};
  }
};

struct TilePlan {
  int width = 0, height = 0, tile = 0, pad = 0;
  int columns = 0, rows = 0;
  std::vector<Tile> tiles;  // row-major
};

// tile: core size (input pixels per side); a tile >= the image gives one tile. pad >= 0.
// Errors: empty image, tile < 1, pad < 0.
[[nodiscard]] Result<TilePlan> plan_tiles(int width, int height, int tile, int pad);

}  // namespace resr::tiling
