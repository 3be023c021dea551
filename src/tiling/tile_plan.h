// Tile planner: cuts an image into tiles whose cores partition it, each grown by `pad` context pixels
// (clamped at the image border, where the model's own zero padding takes over, as on the whole image), and, when
// asked, then to one input size for all tiles, by taking more context inward at the image's edges (a GPU backend
// plans per input size; on the CPU the extra pixels would only cost time).
//
//   TilePlan plan = plan_tiles(510, 408, /*tile=*/200, /*pad=*/34);
//   for (const Tile& t : plan.tiles)  run the model on t.input, keep the output of t.core (see crop_in_output)
//
// Cores are balanced (sizes differ by at most one pixel per axis), so there are no sliver tiles.
// Pure function: no I/O, no allocation beyond the result.
#pragma once

#include <functional>
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
  int width = 0, height = 0, tile_w = 0, tile_h = 0, pad = 0;
  int columns = 0, rows = 0;
  std::vector<Tile> tiles;  // row-major
};

// tile_w x tile_h: largest core size; a tile >= the image gives one tile. pad >= 0. align >= 1: each input
// region starts at a multiple of it and ends at one or at the image's edge (grown by up to align - 1 pixels a
// side), so that a model which pixel-unshuffles by `align` groups a tile's pixels as it groups the whole image's.
// uniform_inputs: every input region has the same size along an axis whose length is a multiple of align (each
// has at least `pad` context, more at the edges); along another axis the edge tiles may be smaller.
// Errors: empty image, tile < 1, pad < 0, align < 1.
[[nodiscard]] Result<TilePlan> plan_tiles(int width, int height, int tile_w, int tile_h, int pad, int align = 1,
                                          bool uniform_inputs = false);
[[nodiscard]] inline Result<TilePlan> plan_tiles(int width, int height, int tile, int pad) {
  return plan_tiles(width, height, tile, tile, pad);
}

struct TileGrid {
  int tile_w = 0, tile_h = 0;  // core sizes to pass to plan_tiles
  double model_area = 0;       // pixels fed to the model in all, context included
};

// Columns choose_tile_grid tries at most: an image wider than this has cores of at least width / kMaxTileColumns.
inline constexpr int kMaxTileColumns = 256;

// The tile grid that feeds the model the fewest pixels (least recomputed context) among those whose largest
// tile input (w x h, context included) satisfies `fits(w, h)`; tiles need not be square, so a wide image
// gets full-width strips when they fit. Errors when not even the smallest core with its context fits.
[[nodiscard]] Result<TileGrid> choose_tile_grid(int width, int height, int pad,
                                                const std::function<bool(int w, int h)>& fits);

}  // namespace resr::tiling
