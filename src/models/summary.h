// ModelSummary: what a graph is, recognised from its structure: architecture (RRDBNet, SRVGGNetCompact or
// "generic"), scale (from shape inference, never the file name), block/conv counts, parameters, and
// multiply-adds per input pixel (convolutions only, as the model cards count them).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace resr::models {

struct ModelSummary {
  std::string architecture;  // "RRDBNet", "SRVGGNetCompact" or "generic"
  int scale = 0;
  int convs = 0;
  int blocks = 0;    // RRDBNet: RRDB blocks (num_block); SRVGGNetCompact: body convs (num_conv)
  int features = 0;  // num_feat: output channels of the first conv
  int growth = 0;    // RRDBNet num_grow_ch
  std::int64_t parameters = 0;
  double macs_per_pixel = 0;  // per input pixel
  // How far, in input pixels, an output pixel can see: the sum of each conv's reach divided by the upscaling
  // done before it. Context of this many pixels around a tile makes tiled output equal the whole-image one.
  double receptive_radius = 0;
  // Input height and width must be multiples of this (PixelUnshuffle models: RRDBNet x2 needs 2, x1 needs 4).
  // Callers tiling an image must pad tiles to it (Real-ESRGAN pads the image by reflection, then crops).
  int input_multiple = 1;
};

[[nodiscard]] Result<ModelSummary> summarize(const ir::Graph& g);

}  // namespace resr::models
