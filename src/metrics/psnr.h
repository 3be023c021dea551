// PSNR between two images of the same size and layout, computed in double precision on the sample values
// scaled to [0,1] (never on wrapped integer differences), over all channels, or on BT.601 luma (Y) like
// BasicSR's test_y_channel. Also the worst PSNR over square blocks, the seam metric for tiling.
#pragma once

#include "core/status.h"
#include "image/image.h"

namespace resr::metrics {

struct PsnrOptions {
  bool y_channel = false;  // BT.601 luma of RGB (of R = G = B for a gray image)
  int crop_border = 0;     // pixels ignored at each edge
};

struct BlockPsnr {
  double worst_db = 0;
  int worst_x = 0, worst_y = 0;  // top-left corner of the worst block
  int blocks = 0;
};

// Colour is compared (metrics/colour_pair.h: alpha is not, a gray image beside an RGB one counts as RGB).
// Errors: sizes differ, empty images. Identical images give +infinity.
[[nodiscard]] Result<double> psnr(const Image& a, const Image& b, const PsnrOptions& options = {});
// Non-overlapping block x block tiles (partial blocks at the right/bottom edges included).
[[nodiscard]] Result<BlockPsnr> worst_block_psnr(const Image& a, const Image& b, int block,
                                                 const PsnrOptions& options = {});

}  // namespace resr::metrics
