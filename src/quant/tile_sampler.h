// Choosing calibration tiles: N rectangles spread over a set of images, the same for the same inputs and seed
// on every platform (own SplitMix64 generator, no std:: distributions, whose output is implementation-defined).
//
//   std::vector<TileChoice> tiles = choose_tiles({{510, 408}, {510, 321}}, /*count=*/200, /*tile=*/128, seed);
//
// Each image gets count / images tiles, and the remainder goes one each to images drawn by the seed (with
// fewer tiles than images, the seed picks which images get one). Inside an image a tile is tile x tile, or the
// image's own width / height where that is smaller; its corners are spread by jittered-grid sampling: the range
// of possible corners is cut into about as many cells as the image has tiles (in proportion to its aspect),
// cells are drawn without repetition (with repetition once all are used) and the corner is uniform inside its
// cell. Result order: by image, then draw order.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tiling/tile_plan.h"

namespace resr::quant {

struct TileChoice {
  int image = 0;  // index into the sizes given
  tiling::Rect rect;
};

// sizes: {width, height} of each image, all >= 1; count >= 0; tile >= 1.
std::vector<TileChoice> choose_tiles(const std::vector<std::pair<int, int>>& sizes, int count, int tile,
                                     std::uint64_t seed);

}  // namespace resr::quant
