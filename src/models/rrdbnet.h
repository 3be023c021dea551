// RRDBNet (ESRGAN / Real-ESRGAN x4plus, x2plus): Wang et al., "ESRGAN", ECCVW 2018, as in BasicSR's
// basicsr/archs/rrdbnet_arch.py. Graph node names mirror the PyTorch module tree (conv_first,
// body.N.rdbK.convJ, conv_body, conv_up1, conv_up2, conv_hr, conv_last); LeakyReLU(0.2) is fused into the
// convolution it follows; residuals are WeightedSum(0.2 * x5 + x) as in the model.
//
//   RESR_ASSIGN_OR_RETURN(RrdbConfig c, RrdbConfig::detect_from_weights(weights));   // scale from conv_first
//   RESR_ASSIGN_OR_RETURN(ir::Graph g, build_rrdbnet_graph(weights, c));
//
// Real-ESRGAN's models have two nearest-x2 upsampling convs (conv_up1, conv_up2): scale 4 takes the image
// directly; scale 2 and 1 first PixelUnshuffle it by 2 and 4 (conv_first then takes 3*4 = 12 or 3*16 = 48
// channels), so inputs must then have sizes divisible by 2 or 4. Models in the original ESRGAN layout
// (models/esrgan_layout.h) may have 0 to 3 upsampling convs: scale = 2^num_upsample / unshuffle; x8 models with
// BasicSR's names add conv_up3.
#pragma once

#include <string>

#include "core/status.h"
#include "formats/weight_map.h"
#include "ir/graph.h"

namespace resr::models {

struct RrdbConfig {
  int num_in_ch = 3, num_out_ch = 3;
  int scale = 4;         // 2^num_upsample / unshuffle: 1, 2, 4 or 8
  int unshuffle = 1;     // PixelUnshuffle of the input: 1, 2 or 4 (from conv_first's input channels)
  int num_upsample = 2;  // conv_up1 .. conv_upN, each after a nearest x2 upsample: 0 to 3
  int num_feat = 64, num_block = 23, num_grow_ch = 32;

  // True when the weights have RRDBNet's keys (conv_first.weight and body.0.rdb1.conv1.weight).
  static bool matches(const formats::WeightMap& w);
  // Reads every hyper-parameter from the key names and shapes and checks every tensor's shape.
  // Errors: "tensor 'body.3.rdb1.conv2.weight': expected [4, 12, 3, 3], got [4, 12]", "missing tensor ...".
  // any_upsample_count: 0 to 3 upsampling convs (the ESRGAN layout); otherwise Real-ESRGAN's two, or three for
  // the x8 models trained with BasicSR's names (conv_up3 after a third nearest x2).
  [[nodiscard]] static Result<RrdbConfig> detect_from_weights(const formats::WeightMap& w,
                                                              bool any_upsample_count = false);
};

[[nodiscard]] Result<ir::Graph> build_rrdbnet_graph(const formats::WeightMap& w, const RrdbConfig& c);

}  // namespace resr::models
