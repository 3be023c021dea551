// stored_form and compare_graphs: what a .resr file of a graph reads back as, and checking that it did.
#include <cmath>
#include <cstdio>

#include "core/half.h"
#include "formats/resr_file.h"
#include "formats/resr_sections.h"
#include "formats/weight_map.h"

namespace resr::formats {
namespace {

std::string node_label(std::size_t i, const ir::Node& n) {
  return "node " + std::to_string(i) + " '" + n.name + "'";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

bool same(float a, float b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

Status compare_floats(const std::string& where, const char* what, const std::vector<float>& a,
                      const std::vector<float>& b) {
  if (a.size() != b.size())
    return Status::error(where + ": " + what + " count " + std::to_string(a.size()) + " vs " +
                         std::to_string(b.size()));
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i]))
      return Status::error(where + ": " + what + "[" + std::to_string(i) + "] " + num(a[i]) + " vs " + num(b[i]));
  return {};
}

Status compare_ints(const std::string& where, const char* what, long long a, long long b) {
  if (a == b) return {};
  return Status::error(where + ": " + what + " " + std::to_string(a) + " vs " + std::to_string(b));
}

Status compare_conv(const std::string& at, const ir::Node& a, const ir::Node& b) {
  const ir::ConvParams &p = a.conv, &q = b.conv;
  RESR_RETURN_IF_ERROR(compare_ints(at, "in_channels", p.in_channels, q.in_channels));
  RESR_RETURN_IF_ERROR(compare_ints(at, "out_channels", p.out_channels, q.out_channels));
  RESR_RETURN_IF_ERROR(compare_ints(at, "kernel_h", p.kernel_h, q.kernel_h));
  RESR_RETURN_IF_ERROR(compare_ints(at, "kernel_w", p.kernel_w, q.kernel_w));
  RESR_RETURN_IF_ERROR(compare_ints(at, "stride", p.stride, q.stride));
  RESR_RETURN_IF_ERROR(compare_ints(at, "pad", p.pad, q.pad));
  RESR_RETURN_IF_ERROR(compare_ints(at, "dilation", p.dilation, q.dilation));
  RESR_RETURN_IF_ERROR(compare_ints(at, "activation", int(p.activation), int(q.activation)));
  RESR_RETURN_IF_ERROR(compare_floats(at, "activation slope", {p.activation_slope}, {q.activation_slope}));
  const ir::ConvQuant &x = a.quant, &y = b.quant;
  if (x.precision != y.precision)
    return Status::error(at + ": precision " + ir::precision_name(x.precision) + " vs " +
                         ir::precision_name(y.precision));
  RESR_RETURN_IF_ERROR(compare_floats(at, "in_scale", {x.in_scale}, {y.in_scale}));
  RESR_RETURN_IF_ERROR(compare_ints(at, "in_zero", x.in_zero, y.in_zero));
  RESR_RETURN_IF_ERROR(compare_ints(at, "asymmetric", x.asymmetric, y.asymmetric));
  RESR_RETURN_IF_ERROR(compare_floats(at, "weight_scales", x.weight_scales, y.weight_scales));
  RESR_RETURN_IF_ERROR(compare_floats(at, "in_channel_scales", x.in_channel_scales, y.in_channel_scales));
  RESR_RETURN_IF_ERROR(compare_floats(at, "weights", a.weights, b.weights));
  return compare_floats(at, "bias", a.bias, b.bias);
}

Status compare_node(std::size_t i, const ir::Node& a, const ir::Node& b) {
  const std::string at = node_label(i, a);
  if (a.op != b.op) return Status::error(at + ": op " + ir::op_name(a.op) + " vs " + ir::op_name(b.op));
  if (a.name != b.name) return Status::error(at + ": name vs '" + b.name + "'");
  if (a.inputs != b.inputs) return Status::error(at + ": inputs differ");
  RESR_RETURN_IF_ERROR(compare_ints(at, "output", a.output, b.output));
  switch (a.op) {
    case ir::Op::kConv2d:
      return compare_conv(at, a, b);
    case ir::Op::kPRelu:
      return compare_floats(at, "slopes", a.slopes, b.slopes);
    case ir::Op::kWeightedSum:
      return compare_floats(at, "coeffs", a.coeffs, b.coeffs);
    case ir::Op::kUpsampleNearest:
    case ir::Op::kPixelShuffle:
    case ir::Op::kPixelUnshuffle:
      return compare_ints(at, "factor", a.factor, b.factor);
    case ir::Op::kInput:
    case ir::Op::kConcat:
      break;
  }
  return {};
}

}  // namespace

ir::Graph stored_form(ir::Graph g) {
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    if (n.quant.precision == ir::Precision::kFp16) {
      for (float& w : n.weights) w = half_to_float(float_to_half(w));
    } else if (n.quant.precision == ir::Precision::kInt8) {
      const std::vector<float> values = ir::int8_weight_values(n);
      for (std::size_t i = 0; i < n.weights.size(); ++i)
        if (std::isfinite(n.weights[i])) n.weights[i] = values[i];
    } else if (n.quant.precision == ir::Precision::kFp8) {
      const std::vector<float> values = ir::fp8_weight_values(n);
      for (std::size_t i = 0; i < n.weights.size(); ++i)
        if (std::isfinite(n.weights[i])) n.weights[i] = values[i];
    }
  }
  return g;
}

Status compare_graphs(const ir::Graph& expected, const ir::Graph& actual) {
  RESR_RETURN_IF_ERROR(compare_ints("graph", "input", expected.input, actual.input));
  RESR_RETURN_IF_ERROR(compare_ints("graph", "output", expected.output, actual.output));
  RESR_RETURN_IF_ERROR(compare_ints("graph", "value count", long(expected.values.size()), long(actual.values.size())));
  for (std::size_t i = 0; i < expected.values.size(); ++i) {
    const ir::Value &a = expected.values[i], &b = actual.values[i];
    const std::string at = "value " + std::to_string(i) + " '" + a.name + "'";
    if (a.name != b.name) return Status::error(at + ": name vs '" + b.name + "'");
    RESR_RETURN_IF_ERROR(compare_ints(at, "channels", a.channels, b.channels));
    RESR_RETURN_IF_ERROR(compare_ints(at, "producer", a.producer, b.producer));
  }
  RESR_RETURN_IF_ERROR(compare_ints("graph", "node count", long(expected.nodes.size()), long(actual.nodes.size())));
  for (std::size_t i = 0; i < expected.nodes.size(); ++i)
    RESR_RETURN_IF_ERROR(compare_node(i, expected.nodes[i], actual.nodes[i]));
  return {};
}

}  // namespace resr::formats
