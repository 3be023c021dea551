#include "models/blend.h"

namespace resr::models {
namespace {

bool same_structure(const ir::Node& x, const ir::Node& y) {
  const ir::ConvParams &p = x.conv, &q = y.conv;
  return x.op == y.op && x.inputs == y.inputs && x.output == y.output && x.factor == y.factor && x.coeffs == y.coeffs &&
         x.weights.size() == y.weights.size() && x.bias.size() == y.bias.size() && x.slopes.size() == y.slopes.size() &&
         p.in_channels == q.in_channels && p.out_channels == q.out_channels && p.kernel_h == q.kernel_h &&
         p.kernel_w == q.kernel_w && p.stride == q.stride && p.pad == q.pad && p.dilation == q.dilation &&
         p.activation == q.activation && p.activation_slope == q.activation_slope;
}

// "'body.0', Conv2d 3->64 3x3": a layer as the mismatch message shows it (it said only "structures differ").
std::string describe(const ir::Node& n) {
  std::string s = "'" + n.name + "', " + ir::op_name(n.op);
  if (n.op == ir::Op::kConv2d)
    s += " " + std::to_string(n.conv.in_channels) + "->" + std::to_string(n.conv.out_channels) + " " +
         std::to_string(n.conv.kernel_h) + "x" + std::to_string(n.conv.kernel_w);
  return s;
}

void mix(std::vector<float>& out, const std::vector<float>& other, float alpha) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = alpha * out[i] + (1.0f - alpha) * other[i];
}

}  // namespace

Result<ir::Graph> blend_graphs(const ir::Graph& a, const ir::Graph& b, float alpha) {
  if (!(alpha >= 0.0f && alpha <= 1.0f)) return Status::error("blend strength must be in [0, 1]");
  if (a.nodes.size() != b.nodes.size() || a.values.size() != b.values.size() || a.input != b.input ||
      a.output != b.output)
    return Status::error("the two models have different structures (" + std::to_string(a.nodes.size()) + " and " +
                         std::to_string(b.nodes.size()) + " layers)");
  ir::Graph out = a;
  for (std::size_t i = 0; i < out.nodes.size(); ++i) {
    ir::Node& n = out.nodes[i];
    const ir::Node& m = b.nodes[i];
    if (!same_structure(n, m))
      return Status::error("layer " + std::to_string(i) + " (" + describe(n) + " vs " + describe(m) +
                           "): structures differ");
    mix(n.weights, m.weights, alpha);
    mix(n.bias, m.bias, alpha);
    mix(n.slopes, m.slopes, alpha);
  }
  return out;
}

}  // namespace resr::models
