// Architecture detection for weight-only model files (.pth, .safetensors), like spandrel: the key names and
// shapes decide RRDBNet (BasicSR's names, the original ESRGAN layout: models/esrgan_layout.h, or the RRDB_trunk
// layout of BSRGAN: models/rrdb_trunk_layout.h) or SRVGGNetCompact and every hyper-parameter, including the scale
// (never the file name); the matching builder then makes the ir::Graph. Training checkpoints are read too: 0-dim
// tensors (an EMA decay, a step) are left out, and keys under a first component no layout has (Lightning's
// "model.", a GAN's "net_g." beside "net_d.") are read as the one network among them that is a known layout
// (of several, the one named EMA; else an error naming them).
//
//   RESR_ASSIGN_OR_RETURN(DetectedModel m, build_from_weights(weights));
//   m.description   // "RRDBNet (scale 2, num_block 1, num_feat 8, num_grow_ch 4)"
//
// Unknown layouts fail with the keys found and what was expected:
//   "unknown architecture: found conv1.weight [64, 3, 9, 9], ... (4 tensors); expected RRDBNet (conv_first,
//    body.N.rdbK.convJ, conv_body, conv_up1, conv_up2, conv_hr, conv_last) or SRVGGNetCompact (body.N.weight)"
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "formats/weight_map.h"
#include "ir/graph.h"
#include "models/rrdbnet.h"
#include "models/srvgg_compact.h"

namespace resr::models {

struct DetectedModel {
  std::string architecture;  // "RRDBNet" or "SRVGGNetCompact"
  int scale = 0;
  std::string description;  // one line for `resr info`
  std::optional<RrdbConfig> rrdb;
  std::optional<SrvggConfig> srvgg;
  ir::Graph graph;
};

struct DetectOptions {
  // SRVGGNetCompact without PReLU weights: which activation to assume (ReLU unless told).
  std::optional<SrvggConfig::Act> srvgg_act;
};

[[nodiscard]] Result<DetectedModel> build_from_weights(const formats::WeightMap& w, const DetectOptions& o = {});

}  // namespace resr::models
