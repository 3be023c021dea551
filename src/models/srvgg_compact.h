// SRVGGNetCompact (Real-ESRGAN's realesr-animevideov3 / realesr-general-x4v3, "x4fast"): a plain VGG-style
// stack, from Real-ESRGAN's realesrgan/archs/srvgg_arch.py:
//   body.0 conv(3 -> nf), body.1 act, then num_conv x (conv(nf -> nf), act), then conv(nf -> 3*s*s);
//   out = pixel_shuffle(body(x), s) + nearest_upsample(x, s).
// The activation is PReLU when body.1.weight exists; ReLU and LeakyReLU(0.1) carry no weights, so the
// weights cannot tell them apart: detection reports ReLU and `act_known = false`, and callers with better
// knowledge (an ONNX graph, a user option) may set `act`. Node names mirror the module tree (body.N,
// upsampler, base, add).
//
//   RESR_ASSIGN_OR_RETURN(SrvggConfig c, SrvggConfig::detect_from_weights(weights));   // s from the last conv
//   RESR_ASSIGN_OR_RETURN(ir::Graph g, build_srvgg_graph(weights, c));
#pragma once

#include "core/status.h"
#include "formats/weight_map.h"
#include "ir/graph.h"

namespace resr::models {

struct SrvggConfig {
  enum class Act { kPRelu, kRelu, kLeakyRelu };
  int num_in_ch = 3, num_out_ch = 3;
  int num_feat = 64, num_conv = 16;
  int upscale = 4;  // 1..4
  Act act = Act::kPRelu;
  bool act_known = true;  // false when the activation had to be assumed (no weights tell ReLU from LeakyReLU)

  // True when the keys are body.N.weight / body.N.bias only, with body.0.weight a 4-D conv weight.
  static bool matches(const formats::WeightMap& w);
  [[nodiscard]] static Result<SrvggConfig> detect_from_weights(const formats::WeightMap& w);
};

const char* act_name(SrvggConfig::Act a);

[[nodiscard]] Result<ir::Graph> build_srvgg_graph(const formats::WeightMap& w, const SrvggConfig& c);

}  // namespace resr::models
