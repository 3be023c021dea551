// The graph section and weight blob of a .resr file, from an ir::Graph (layout: resr_sections.h).
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "formats/resr_layout.h"
#include "formats/resr_sections.h"
#include "formats/weight_map.h"

namespace resr::formats::resr_sections {
namespace {

using nlohmann::json;

const char* activation_name(ir::Activation a) {
  switch (a) {
    case ir::Activation::kRelu:
      return "relu";
    case ir::Activation::kLeakyRelu:
      return "leaky_relu";
    case ir::Activation::kNone:
      break;
  }
  return "none";
}

Status node_error(const ir::Node& n, const std::string& what) {
  return Status::error("layer '" + n.name + "' (" + ir::op_name(n.op) + "): " + what);
}

// JSON has no NaN or infinity: such a value cannot be stored, and the graph is broken anyway.
Status check_finite(const ir::Node& n, float v, const char* what) {
  if (!std::isfinite(v)) return node_error(n, std::string("non-finite ") + what + " cannot be stored");
  return {};
}

// Appends one array at the next 64-byte boundary; returns its [offset, count] reference.
json append(std::vector<std::uint8_t>* blob, const void* data, std::size_t bytes, std::size_t count) {
  const std::uint64_t offset = resr_layout::align_up(blob->size());
  blob->resize(offset + bytes);
  if (bytes > 0) std::memcpy(blob->data() + offset, data, bytes);
  return json::array({offset, count});
}

Result<json> conv_weights(const ir::Node& n, std::vector<std::uint8_t>* blob) {
  const std::vector<float>& w = n.weights;
  switch (n.quant.precision) {
    case ir::Precision::kFp32:
      return append(blob, w.data(), w.size() * sizeof(float), w.size());
    case ir::Precision::kFp16: {
      std::vector<std::uint8_t> h(w.size() * 2);
      for (std::size_t i = 0; i < w.size(); ++i) {
        const std::uint16_t v = float_to_half(w[i]);
        if (std::isfinite(w[i]) && (v & 0x7c00u) == 0x7c00u)
          return node_error(n, "weight " + std::to_string(w[i]) + " is beyond the fp16 range");
        h[2 * i] = std::uint8_t(v & 0xff);
        h[2 * i + 1] = std::uint8_t(v >> 8);
      }
      return append(blob, h.data(), h.size(), w.size());
    }
    case ir::Precision::kInt8: {
      for (float v : w) RESR_RETURN_IF_ERROR(check_finite(n, v, "weight"));
      const std::vector<std::int8_t> q = ir::int8_weight_codes(n);  // per-channel input scales folded in
      return append(blob, q.data(), q.size(), q.size());
    }
    case ir::Precision::kFp8: {
      for (float v : w) RESR_RETURN_IF_ERROR(check_finite(n, v, "weight"));
      const std::vector<std::uint8_t> q = ir::fp8_weight_codes(n);
      return append(blob, q.data(), q.size(), q.size());
    }
  }
  return node_error(n, "unknown precision");
}

Result<json> conv_node(const ir::Node& n, json node, std::vector<std::uint8_t>* blob) {
  const ir::ConvParams& c = n.conv;
  RESR_RETURN_IF_ERROR(check_finite(n, c.activation_slope, "activation slope"));
  node["conv"] = {{"in", c.in_channels},        {"out", c.out_channels},
                  {"kernel_h", c.kernel_h},     {"kernel_w", c.kernel_w},
                  {"stride", c.stride},         {"pad", c.pad},
                  {"dilation", c.dilation},     {"activation", activation_name(c.activation)},
                  {"slope", c.activation_slope}};
  const ir::ConvQuant& q = n.quant;
  node["precision"] = ir::precision_name(q.precision);
  if (ir::is_quantized(q.precision)) {
    RESR_RETURN_IF_ERROR(check_finite(n, q.in_scale, "input scale"));
    for (float s : q.weight_scales) RESR_RETURN_IF_ERROR(check_finite(n, s, "weight scale"));
    node["quant"] = {{"in_scale", q.in_scale},
                     {"in_zero", q.in_zero},
                     {"asymmetric", q.asymmetric},
                     {"weight_scales", q.weight_scales}};
    if (!q.in_channel_scales.empty()) {
      for (float s : q.in_channel_scales) RESR_RETURN_IF_ERROR(check_finite(n, s, "input channel scale"));
      node["quant"]["in_channel_scales"] = q.in_channel_scales;
    }
  }
  RESR_ASSIGN_OR_RETURN(node["weights"], conv_weights(n, blob));
  if (!n.bias.empty()) node["bias"] = append(blob, n.bias.data(), n.bias.size() * sizeof(float), n.bias.size());
  return node;
}

}  // namespace

Result<json> graph_to_json(const ir::Graph& g, std::vector<std::uint8_t>* blob) {
  json values = json::array();
  for (const ir::Value& v : g.values) values.push_back({{"name", v.name}, {"channels", v.channels}});
  json nodes = json::array();
  for (const ir::Node& n : g.nodes) {
    json node = {{"op", ir::op_name(n.op)}, {"name", n.name}, {"inputs", n.inputs}, {"output", n.output}};
    switch (n.op) {
      case ir::Op::kConv2d: {
        RESR_ASSIGN_OR_RETURN(node, conv_node(n, std::move(node), blob));
        break;
      }
      case ir::Op::kPRelu:
        node["slopes"] = append(blob, n.slopes.data(), n.slopes.size() * sizeof(float), n.slopes.size());
        break;
      case ir::Op::kWeightedSum:
        for (float c : n.coeffs) RESR_RETURN_IF_ERROR(check_finite(n, c, "coefficient"));
        node["coeffs"] = n.coeffs;
        break;
      case ir::Op::kUpsampleNearest:
      case ir::Op::kPixelShuffle:
      case ir::Op::kPixelUnshuffle:
        node["factor"] = n.factor;
        break;
      case ir::Op::kInput:
      case ir::Op::kConcat:
        break;
    }
    nodes.push_back(std::move(node));
  }
  return json{{"input", g.input}, {"output", g.output}, {"values", std::move(values)}, {"nodes", std::move(nodes)}};
}

}  // namespace resr::formats::resr_sections
