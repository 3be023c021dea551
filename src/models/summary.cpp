#include "models/summary.h"

#include "ir/split.h"

namespace resr::models {

Result<ModelSummary> summarize(const ir::Graph& g) {
  constexpr int kProbe = 16;  // any size works for fully convolutional models; 16 keeps it exact for scale <= 16
  RESR_ASSIGN_OR_RETURN(std::vector<Shape> shapes, ir::infer_shapes(g, kProbe, kProbe));
  ModelSummary s;
  if (g.values[g.input].channels != 3) return Status::error("model input must have 3 channels (RGB)");
  if (g.values[g.output].channels != 3) return Status::error("model output must have 3 channels (RGB)");
  const Shape out = shapes[g.output];
  if (out.h % kProbe != 0 || out.w != out.h) return Status::error("model output is not an integer upscale");
  s.scale = out.h / kProbe;
  int concats = 0, prelus = 0, shuffles = 0, upsamples = 0;
  double macs = 0;
  for (const ir::Node& n : g.nodes) {
    s.parameters += std::int64_t(n.weights.size() + n.bias.size() + n.slopes.size());
    if (n.op == ir::Op::kConv2d) {
      if (s.convs == 0) s.features = n.conv.out_channels;
      ++s.convs;
      const Shape o = shapes[n.output];
      macs += double(n.conv.out_channels) * n.conv.in_channels * n.conv.kernel_h * n.conv.kernel_w * o.h * o.w;
    }
    concats += n.op == ir::Op::kConcat;
    prelus += n.op == ir::Op::kPRelu;
    shuffles += n.op == ir::Op::kPixelShuffle;
    upsamples += n.op == ir::Op::kUpsampleNearest;
    if (n.op == ir::Op::kPixelUnshuffle) s.input_multiple *= n.factor;
  }
  s.macs_per_pixel = macs / (kProbe * kProbe);
  s.receptive_radius = ir::receptive_radius(g);
  // RRDBNet: conv_first, num_block x 3 dense blocks x 5 convs, conv_body, a conv after each upsample (2 in
  // Real-ESRGAN's, 0 to 3 in ESRGAN's layout), conv_hr, conv_last.
  const int trunk = s.convs - 4 - upsamples;
  if (concats > 0 && trunk > 0 && trunk % 15 == 0) {
    s.architecture = "RRDBNet";
    s.blocks = trunk / 15;
    for (const ir::Node& n : g.nodes)
      if (n.op == ir::Op::kConcat) {
        s.growth = g.values[n.output].channels - g.values[n.inputs[0]].channels;
        break;
      }
  } else if (concats == 0 && shuffles == 1 && s.convs >= 2) {
    // SRVGGNetCompact: conv_first, num_conv body convs, the conv feeding the pixel shuffle.
    s.architecture = "SRVGGNetCompact";
    s.blocks = s.convs - 2;
    (void)prelus;
  } else {
    s.architecture = "generic";
  }
  return s;
}

}  // namespace resr::models
