// Reading the images a sample of tiles is drawn from (calibration, the precision search) holding one decoded
// image at a time: a first pass decodes each for its size, then, once the tiles are chosen from those sizes
// (quant/tile_sampler.h), a second pass decodes each image that has a chosen tile again and cuts them.
//
//   SampleImages probed = probe_sample_images(paths);            // sizes; the files that do not decode
//   std::vector<TileChoice> tiles = choose_tiles(probed.sizes, count, tile, seed);
//   RESR_RETURN_IF_ERROR(for_each_chosen_tile(probed, tiles, [&](const Image& img, const TileChoice& t) { ... }));
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "image/image.h"
#include "quant/tile_sampler.h"

namespace resr::quant {

struct SampleImages {
  std::vector<std::string> paths;          // the images that decode, in the order given
  std::vector<std::pair<int, int>> sizes;  // their {width, height}
  std::vector<std::string> skipped;        // "path: why" for each file that does not decode
};

SampleImages probe_sample_images(const std::vector<std::string>& paths);

// `tiles` from choose_tiles over images.sizes (in image order). Each image is decoded once, and `use` gets each of
// its tiles; the first error of `use` stops. Error: an image whose size changed since it was probed.
[[nodiscard]] Status for_each_chosen_tile(const SampleImages& images, const std::vector<TileChoice>& tiles,
                                          const std::function<Status(const Image&, const TileChoice&)>& use);

}  // namespace resr::quant
