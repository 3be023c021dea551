#include "models/srvgg_compact.h"

#include <cmath>

#include "models/graph_builder.h"

namespace resr::models {
namespace {

constexpr float kLeakySlope = 0.1f;  // nn.LeakyReLU(negative_slope=0.1) in srvgg_arch.py

}  // namespace

const char* act_name(SrvggConfig::Act a) {
  switch (a) {
    case SrvggConfig::Act::kPRelu:
      return "prelu";
    case SrvggConfig::Act::kRelu:
      return "relu";
    case SrvggConfig::Act::kLeakyRelu:
      return "leakyrelu";
  }
  return "?";
}

bool SrvggConfig::matches(const formats::WeightMap& w) {
  auto it = w.find("body.0.weight");
  if (it == w.end() || it->second.shape.size() != 4) return false;
  for (const auto& [k, v] : w)
    if (k.rfind("body.", 0) != 0) return false;
  return true;
}

Result<SrvggConfig> SrvggConfig::detect_from_weights(const formats::WeightMap& w) {
  SrvggConfig c;
  auto first = w.find("body.0.weight");
  if (first == w.end()) return Status::error("missing tensor 'body.0.weight'");
  const formats::WeightTensor& f = first->second;
  if (f.shape.size() != 4 || f.shape[1] != 3 || f.shape[0] < 1 || f.shape[0] > 4096)
    return Status::error("tensor 'body.0.weight': expected [num_feat, 3, 3, 3], got " + f.shape_string());
  c.num_feat = static_cast<int>(f.shape[0]);
  // The highest body index holds the last conv: body.(2 * num_conv + 2).
  int highest = 0;
  for (const auto& [k, v] : w) {
    const std::size_t dot = k.find('.', 5);
    if (dot == std::string::npos) return Status::error("unexpected tensor '" + k + "'");
    const std::string index = k.substr(5, dot - 5);
    if (index.empty() || index.size() > 4 || index.find_first_not_of("0123456789") != std::string::npos)
      return Status::error("unexpected tensor '" + k + "'");
    highest = std::max(highest, std::stoi(index));
  }
  if (highest < 2 || highest % 2 != 0)
    return Status::error("the last body layer is body." + std::to_string(highest) + ", expected an even index >= 2");
  c.num_conv = (highest - 2) / 2;
  const std::string last = "body." + std::to_string(highest) + ".weight";
  auto l = w.find(last);
  if (l == w.end() || l->second.shape.size() != 4) return Status::error("missing or bad tensor '" + last + "'");
  const std::int64_t out = l->second.shape[0];
  const int s = static_cast<int>(std::lround(std::sqrt(double(out) / 3.0)));
  if (s < 1 || s > 4 || 3 * s * s != out)
    return Status::error("tensor '" + last + "': " + std::to_string(out) +
                         " output channels is not 3 * s * s for an upscale s of 1 to 4");
  c.upscale = s;
  if (w.count("body.1.weight") != 0) {
    c.act = Act::kPRelu;
  } else {
    c.act = Act::kRelu;
    c.act_known = false;
  }
  // Shapes of every layer.
  for (int i = 0; i <= c.num_conv + 1; ++i) {
    const std::string conv = "body." + std::to_string(2 * i);
    const int oc = i == c.num_conv + 1 ? 3 * s * s : c.num_feat, ic = i == 0 ? 3 : c.num_feat;
    RESR_RETURN_IF_ERROR(expect_shape(w, conv + ".weight", {oc, ic, 3, 3}));
    RESR_RETURN_IF_ERROR(expect_shape(w, conv + ".bias", {oc}));
    if (i <= c.num_conv && c.act == Act::kPRelu)
      RESR_RETURN_IF_ERROR(expect_shape(w, "body." + std::to_string(2 * i + 1) + ".weight", {c.num_feat}));
  }
  return c;
}

Result<ir::Graph> build_srvgg_graph(const formats::WeightMap& w, const SrvggConfig& c) {
  GraphBuilder b(w);
  const int x = b.input(c.num_in_ch);
  int y = x;
  for (int i = 0; i <= c.num_conv + 1; ++i) {
    const bool last = i == c.num_conv + 1;
    const std::string conv = "body." + std::to_string(2 * i), act = "body." + std::to_string(2 * i + 1);
    if (last || c.act == SrvggConfig::Act::kPRelu) {
      RESR_ASSIGN_OR_RETURN(y, b.conv(conv, y));
      if (!last) {
        RESR_ASSIGN_OR_RETURN(y, b.prelu(act, y));
      }
    } else {
      const bool leaky = c.act == SrvggConfig::Act::kLeakyRelu;
      RESR_ASSIGN_OR_RETURN(
          y, b.conv(conv, y, leaky ? ir::Activation::kLeakyRelu : ir::Activation::kRelu, leaky ? kLeakySlope : 0.0f));
    }
  }
  if (b.channels(y) != 3 * c.upscale * c.upscale) return Status::error("last conv does not match the upscale");
  y = b.pixel_shuffle("upsampler", y, c.upscale);
  const int base = b.upsample_nearest("base", x, c.upscale);
  const int out = b.weighted_sum("add", {y, base}, {1.0f, 1.0f});
  return b.finish(out);
}

}  // namespace resr::models
