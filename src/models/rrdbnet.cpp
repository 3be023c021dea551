#include "models/rrdbnet.h"

#include "models/graph_builder.h"

namespace resr::models {
namespace {

constexpr float kSlope = 0.2f;     // LeakyReLU negative slope
constexpr float kResidual = 0.2f;  // residual scaling of RDB and RRDB

std::vector<std::int64_t> conv_shape(int oc, int ic) {
  return {oc, ic, 3, 3};
}

Status check_conv(const formats::WeightMap& w, const std::string& m, int oc, int ic) {
  RESR_RETURN_IF_ERROR(expect_shape(w, m + ".weight", conv_shape(oc, ic)));
  return expect_shape(w, m + ".bias", {oc});
}

// x + 0.2 * conv5(cat(x, x1, x2, x3, x4)), xk = lrelu(convk(cat(x, x1, ..)))
Result<int> residual_dense_block(GraphBuilder& b, const std::string& name, int x) {
  std::vector<int> feats = {x};
  for (int k = 1; k <= 4; ++k) {
    const int in = k == 1 ? x : b.concat(name + ".cat" + std::to_string(k), feats);
    RESR_ASSIGN_OR_RETURN(int y, b.conv(name + ".conv" + std::to_string(k), in, ir::Activation::kLeakyRelu, kSlope));
    feats.push_back(y);
  }
  const int cat = b.concat(name + ".cat5", feats);
  RESR_ASSIGN_OR_RETURN(int x5, b.conv(name + ".conv5", cat));
  return b.weighted_sum(name + ".add", {x5, x}, {kResidual, 1.0f});
}

}  // namespace

bool RrdbConfig::matches(const formats::WeightMap& w) {
  return w.count("conv_first.weight") != 0 && w.count("body.0.rdb1.conv1.weight") != 0;
}

Result<RrdbConfig> RrdbConfig::detect_from_weights(const formats::WeightMap& w, bool any_upsample_count) {
  RrdbConfig c;
  auto first = w.find("conv_first.weight");
  if (first == w.end()) return Status::error("missing tensor 'conv_first.weight'");
  const formats::WeightTensor& f = first->second;
  if (f.shape.size() != 4)
    return Status::error("tensor 'conv_first.weight': expected 4 dims, got " + std::to_string(f.shape.size()));
  c.num_feat = static_cast<int>(f.shape[0]);
  switch (f.shape[1]) {
    case 3:
      c.unshuffle = 1;
      break;
    case 12:
      c.unshuffle = 2;
      break;
    case 48:
      c.unshuffle = 4;
      break;
    default:
      return Status::error(
          "tensor 'conv_first.weight': expected 3, 12 or 48 input channels (pixel unshuffle by 1, 2, 4), got " +
          f.shape_string());
  }
  c.num_upsample = 0;
  while (c.num_upsample < 4 && w.count("conv_up" + std::to_string(c.num_upsample + 1) + ".weight") != 0)
    ++c.num_upsample;
  if (!any_upsample_count && c.num_upsample < 2)
    return Status::error("missing tensor 'conv_up" + std::to_string(c.num_upsample + 1) + ".weight'");
  if (c.num_upsample > 3) return Status::error("more than 3 upsampling convs (conv_up4): scale above 8");
  if ((1 << c.num_upsample) < c.unshuffle)
    return Status::error("conv_first takes " + std::to_string(f.shape[1]) + " channels (unshuffle by " +
                         std::to_string(c.unshuffle) + ") but there are only " + std::to_string(c.num_upsample) +
                         " upsampling convs: the output would be smaller than the input");
  c.scale = (1 << c.num_upsample) / c.unshuffle;
  if (c.num_feat < 1 || c.num_feat > 4096)
    return Status::error("tensor 'conv_first.weight': bad shape " + f.shape_string());
  auto g = w.find("body.0.rdb1.conv1.weight");
  if (g == w.end() || g->second.shape.size() != 4 || g->second.shape[0] < 1 || g->second.shape[0] > 4096)
    return Status::error("missing or bad tensor 'body.0.rdb1.conv1.weight'");
  c.num_grow_ch = static_cast<int>(g->second.shape[0]);
  c.num_block = 0;
  while (w.count("body." + std::to_string(c.num_block) + ".rdb1.conv1.weight") != 0) ++c.num_block;
  auto last = w.find("conv_last.weight");
  if (last == w.end() || last->second.shape.size() != 4)
    return Status::error("missing or bad tensor 'conv_last.weight'");
  c.num_out_ch = static_cast<int>(last->second.shape[0]);
  if (c.num_out_ch != 3)
    return Status::error("tensor 'conv_last.weight': expected 3 output channels, got " + last->second.shape_string());
  // Every shape, so that errors name the tensor rather than a graph layer.
  const int nf = c.num_feat, gc = c.num_grow_ch;
  RESR_RETURN_IF_ERROR(check_conv(w, "conv_first", nf, 3 * c.unshuffle * c.unshuffle));
  for (int b = 0; b < c.num_block; ++b)
    for (int r = 1; r <= 3; ++r)
      for (int k = 1; k <= 5; ++k) {
        const std::string m = "body." + std::to_string(b) + ".rdb" + std::to_string(r) + ".conv" + std::to_string(k);
        RESR_RETURN_IF_ERROR(check_conv(w, m, k == 5 ? nf : gc, nf + (k - 1) * gc));
      }
  for (const char* m : {"conv_body", "conv_hr"}) RESR_RETURN_IF_ERROR(check_conv(w, m, nf, nf));
  for (int k = 1; k <= c.num_upsample; ++k) RESR_RETURN_IF_ERROR(check_conv(w, "conv_up" + std::to_string(k), nf, nf));
  RESR_RETURN_IF_ERROR(check_conv(w, "conv_last", c.num_out_ch, nf));
  return c;
}

Result<ir::Graph> build_rrdbnet_graph(const formats::WeightMap& w, const RrdbConfig& c) {
  GraphBuilder b(w);
  int feat = b.input(c.num_in_ch);
  if (c.unshuffle != 1 && c.unshuffle != 2 && c.unshuffle != 4)
    return Status::error("RRDBNet unshuffle must be 1, 2 or 4");
  if (c.num_upsample < 0 || c.num_upsample > 3) return Status::error("RRDBNet takes 0 to 3 upsampling convs");
  if (c.unshuffle > 1) feat = b.pixel_unshuffle("pixel_unshuffle", feat, c.unshuffle);
  RESR_ASSIGN_OR_RETURN(feat, b.conv("conv_first", feat));
  int x = feat;
  for (int i = 0; i < c.num_block; ++i) {
    const std::string block = "body." + std::to_string(i);
    int y = x;
    for (int r = 1; r <= 3; ++r) {
      RESR_ASSIGN_OR_RETURN(y, residual_dense_block(b, block + ".rdb" + std::to_string(r), y));
    }
    x = b.weighted_sum(block + ".add", {y, x}, {kResidual, 1.0f});
  }
  RESR_ASSIGN_OR_RETURN(int body, b.conv("conv_body", x));
  feat = b.weighted_sum("add", {feat, body}, {1.0f, 1.0f});
  for (int k = 1; k <= c.num_upsample; ++k) {
    const std::string up = "conv_up" + std::to_string(k);
    feat = b.upsample_nearest(up + ".upsample", feat, 2);
    RESR_ASSIGN_OR_RETURN(feat, b.conv(up, feat, ir::Activation::kLeakyRelu, kSlope));
  }
  RESR_ASSIGN_OR_RETURN(feat, b.conv("conv_hr", feat, ir::Activation::kLeakyRelu, kSlope));
  RESR_ASSIGN_OR_RETURN(int out, b.conv("conv_last", feat));
  return b.finish(out);
}

}  // namespace resr::models
