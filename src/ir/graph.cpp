#include "ir/graph.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "core/fp8.h"
#include "ir/int8_weight.h"

namespace resr::ir {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kFp16:
      return "fp16";
    case Precision::kInt8:
      return "int8";
    case Precision::kFp8:
      return "fp8";
  }
  return "?";
}

bool parse_precision(const std::string& s, Precision* out) {
  for (Precision p : {Precision::kFp32, Precision::kFp16, Precision::kInt8, Precision::kFp8}) {
    if (s == precision_name(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

const char* op_name(Op op) {
  switch (op) {
#define RESR_OP(name, display) \
  case Op::k##name:            \
    return display;
#include "ir/ops.def"
#undef RESR_OP
  }
  return "?";
}

int Graph::add_value(std::string name, int channels) {
  values.push_back(Value{std::move(name), channels, -1});
  return static_cast<int>(values.size()) - 1;
}

std::vector<int> Graph::use_counts() const {
  std::vector<int> uses(values.size(), 0);
  for (const Node& n : nodes)
    for (int v : n.inputs) ++uses[v];
  if (output >= 0) ++uses[output];
  return uses;
}

int Graph::concat_root(int value) const {
  while (values[value].producer >= 0 && nodes[values[value].producer].op == Op::kConcat)
    value = nodes[values[value].producer].inputs[0];
  return value;
}

std::vector<int> Graph::last_uses() const {
  std::vector<int> last(values.size(), -1);
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
    for (int v : nodes[i].inputs) last[v] = i;
  if (output >= 0) last[output] = static_cast<int>(nodes.size());
  return last;
}

std::vector<std::uint8_t> fp8_weight_codes(const Node& n) {
  std::vector<std::uint8_t> codes(n.weights.size());
  const std::size_t per_oc = n.weights.size() / std::size_t(n.conv.out_channels);
  for (std::size_t k = 0; k < codes.size(); ++k)
    codes[k] = float_to_e4m3(n.weights[k] / n.quant.weight_scales[k / per_oc]);
  return codes;
}

std::vector<float> input_channel_scales(const ConvQuant& q) {
  std::vector<float> s(q.in_channel_scales.size());
  for (std::size_t c = 0; c < s.size(); ++c) s[c] = input_channel_scale(q, int(c));
  return s;
}

namespace {

// The per-channel factor of weight k ([oc][ic][kh][kw] order): its input channel's, or 1 when per tensor.
float channel_factor_of(const ConvParams& p, const ConvQuant& q, std::size_t k) {
  const std::vector<float>& f = q.in_channel_scales;
  if (f.empty()) return 1.0f;
  return f[(k / (std::size_t(p.kernel_h) * std::size_t(p.kernel_w))) % f.size()];
}

}  // namespace

std::vector<float> folded_int8_weights(const ConvParams& p, const ConvQuant& q, std::span<const float> weights) {
  std::vector<float> w(weights.begin(), weights.end());
  if (q.in_channel_scales.empty()) return w;
  for (std::size_t k = 0; k < w.size(); ++k) w[k] *= channel_factor_of(p, q, k);
  return w;
}

std::vector<float> folded_int8_weights(const Node& n) {
  return folded_int8_weights(n.conv, n.quant, n.weights);
}

std::vector<std::int8_t> int8_weight_codes(const ConvParams& p, const ConvQuant& q, std::span<const float> weights) {
  const std::vector<float> w = folded_int8_weights(p, q, weights);
  std::vector<std::int8_t> codes(w.size());
  const std::size_t per_oc = w.size() / std::size_t(p.out_channels);
  for (std::size_t k = 0; k < w.size(); ++k) codes[k] = quantize_weight(w[k], q.weight_scales[k / per_oc]);
  return codes;
}

std::vector<std::int8_t> int8_weight_codes(const Node& n) {
  return int8_weight_codes(n.conv, n.quant, n.weights);
}

std::vector<float> int8_weight_values(const Node& n) {
  const std::vector<std::int8_t> codes = int8_weight_codes(n);
  std::vector<float> values(codes.size());
  const std::size_t per_oc = codes.size() / std::size_t(n.conv.out_channels);
  for (std::size_t k = 0; k < codes.size(); ++k)
    values[k] = int8_weight_value(codes[k], n.quant.weight_scales[k / per_oc], channel_factor_of(n.conv, n.quant, k));
  return values;
}

std::vector<float> fp8_weight_values(const Node& n) {
  const std::vector<std::uint8_t> codes = fp8_weight_codes(n);
  std::vector<float> values(codes.size());
  const std::size_t per_oc = codes.size() / std::size_t(n.conv.out_channels);
  for (std::size_t k = 0; k < codes.size(); ++k)
    values[k] = e4m3_to_float(codes[k]) * n.quant.weight_scales[k / per_oc];
  return values;
}

namespace {

Status node_error(const Node& n, const std::string& what);

// An INT8 or FP8 conv needs usable scales (FP8: symmetric); fp32 / fp16 nodes must not carry any.
Status verify_quant(const Node& n) {
  const ConvQuant& q = n.quant;
  if (!is_quantized(q.precision)) {
    if (!q.weight_scales.empty() || !q.in_channel_scales.empty())
      return node_error(n, std::string(precision_name(q.precision)) + " conv has INT8 scales");
    return {};
  }
  const std::string kind = q.precision == Precision::kInt8 ? "INT8" : "FP8";
  if (!(q.in_scale > 0.0f) || !std::isfinite(q.in_scale)) return node_error(n, kind + " input scale must be positive");
  const int max_zero = q.asymmetric && q.precision == Precision::kInt8 ? 255 : 0;
  if (q.in_zero < 0 || q.in_zero > max_zero) return node_error(n, kind + " input zero point out of range");
  if (q.precision == Precision::kFp8 && q.asymmetric) return node_error(n, "FP8 input must be symmetric");
  if (q.weight_scales.size() != std::size_t(n.conv.out_channels))
    return node_error(n, kind + " conv needs one weight scale per output channel");
  for (float s : q.weight_scales)
    if (!(s > 0.0f) || !std::isfinite(s)) return node_error(n, kind + " weight scales must be positive");
  if (!q.in_channel_scales.empty()) {
    if (q.precision != Precision::kInt8 || q.asymmetric)
      return node_error(n, "per-channel input scales are for symmetric INT8 only");
    if (q.in_channel_scales.size() != std::size_t(n.conv.in_channels))
      return node_error(n, "INT8 conv needs one input channel scale per input channel");
    for (std::size_t c = 0; c < q.in_channel_scales.size(); ++c) {
      const float s = input_channel_scale(q, int(c));
      if (!(q.in_channel_scales[c] > 0.0f) || !std::isfinite(s) || !(s > 0.0f) || !std::isfinite(127.0f * s))
        return node_error(n, "INT8 input channel scales must be positive");
    }
  }
  return {};
}

Status node_error(const Node& n, const std::string& what) {
  return Status::error(std::string("layer '") + n.name + "' (" + op_name(n.op) + "): " + what);
}

Status verify_node(const Graph& g, const Node& n, int index) {
  const int nv = static_cast<int>(g.values.size());
  for (int v : n.inputs) {
    if (v < 0 || v >= nv) return node_error(n, "input value out of range");
    if (g.values[v].producer < 0 || g.values[v].producer >= index)
      return node_error(n, "input '" + g.values[v].name + "' is not produced before it");
  }
  if (n.output < 0 || n.output >= nv || g.values[n.output].producer != index)
    return node_error(n, "output value not owned by this node");
  const int out_c = g.values[n.output].channels;
  auto in_c = [&](std::size_t i) { return g.values[n.inputs[i]].channels; };
  auto expect_inputs = [&](std::size_t count) -> Status {
    if (n.inputs.size() != count)
      return node_error(n, "expected " + std::to_string(count) + " inputs, got " + std::to_string(n.inputs.size()));
    return {};
  };
  switch (n.op) {
    case Op::kInput:
      RESR_RETURN_IF_ERROR(expect_inputs(0));
      if (out_c < 1) return node_error(n, "input has no channels");
      return {};
    case Op::kConv2d: {
      RESR_RETURN_IF_ERROR(expect_inputs(1));
      const ConvParams& c = n.conv;
      if (c.kernel_h < 1 || c.kernel_w < 1 || c.kernel_h > 15 || c.kernel_w > 15 || c.stride < 1 || c.stride > 8 ||
          c.pad < 0 || c.pad > 16 || c.dilation < 1 || c.dilation > 8)
        return node_error(n, "unsupported kernel/stride/pad/dilation");
      if (c.in_channels != in_c(0))
        return node_error(n, "weights expect " + std::to_string(c.in_channels) + " input channels, input has " +
                                 std::to_string(in_c(0)));
      if (c.out_channels != out_c || out_c < 1) return node_error(n, "output channel count mismatch");
      const std::size_t expect = std::size_t(c.out_channels) * c.in_channels * c.kernel_h * c.kernel_w;
      if (n.weights.size() != expect)
        return node_error(n,
                          "expected " + std::to_string(expect) + " weights, got " + std::to_string(n.weights.size()));
      if (!n.bias.empty() && n.bias.size() != std::size_t(c.out_channels)) return node_error(n, "bias size mismatch");
      return verify_quant(n);
    }
    case Op::kPRelu:
      RESR_RETURN_IF_ERROR(expect_inputs(1));
      if (out_c != in_c(0)) return node_error(n, "channel count changes");
      if (n.slopes.size() != 1 && n.slopes.size() != std::size_t(out_c))
        return node_error(
            n, "has " + std::to_string(n.slopes.size()) + " slopes for " + std::to_string(out_c) + " channels");
      return {};
    case Op::kConcat: {
      if (n.inputs.empty()) return node_error(n, "no inputs");
      int sum = 0;
      for (std::size_t i = 0; i < n.inputs.size(); ++i) sum += in_c(i);
      if (sum != out_c) return node_error(n, "channel count does not add up");
      return {};
    }
    case Op::kWeightedSum:
      if (n.inputs.size() < 2 || n.coeffs.size() != n.inputs.size())
        return node_error(n, "needs 2 or more inputs and one coefficient per input");
      for (std::size_t i = 0; i < n.inputs.size(); ++i)
        if (in_c(i) != out_c) return node_error(n, "inputs have different channel counts");
      return {};
    case Op::kUpsampleNearest:
      RESR_RETURN_IF_ERROR(expect_inputs(1));
      if (n.factor < 1 || n.factor > 16) return node_error(n, "unsupported upsampling factor");
      if (out_c != in_c(0)) return node_error(n, "channel count changes");
      return {};
    case Op::kPixelShuffle:
      RESR_RETURN_IF_ERROR(expect_inputs(1));
      if (n.factor < 1 || n.factor > 16) return node_error(n, "unsupported shuffle factor");
      if (in_c(0) != out_c * n.factor * n.factor)
        return node_error(n, std::to_string(in_c(0)) + " channels cannot be shuffled by " + std::to_string(n.factor));
      return {};
    case Op::kPixelUnshuffle:
      RESR_RETURN_IF_ERROR(expect_inputs(1));
      if (n.factor < 1 || n.factor > 16) return node_error(n, "unsupported unshuffle factor");
      if (out_c != in_c(0) * n.factor * n.factor)
        return node_error(n, "output channels must be input channels x r x r");
      return {};
  }
  return node_error(n, "unknown op");
}

}  // namespace

Status verify(const Graph& g) {
  if (g.nodes.empty()) return Status::error("empty graph");
  if (g.input < 0 || g.output < 0 || g.input >= int(g.values.size()) || g.output >= int(g.values.size()))
    return Status::error("graph has no input or output");
  int inputs = 0;
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    RESR_RETURN_IF_ERROR(verify_node(g, g.nodes[i], i));
    if (g.nodes[i].op == Op::kInput) ++inputs;
  }
  if (inputs != 1) return Status::error("graph must have exactly one input, has " + std::to_string(inputs));
  return {};
}

Result<std::vector<Shape>> infer_shapes(const Graph& g, int h, int w) {
  constexpr std::int64_t kMaxSide = 1 << 20;
  std::vector<Shape> shapes(g.values.size());
  for (const Node& n : g.nodes) {
    const int c = g.values[n.output].channels;
    auto in = [&](std::size_t i) { return shapes[n.inputs[i]]; };
    Shape s{c, 0, 0};
    switch (n.op) {
      case Op::kInput:
        s = Shape{c, h, w};
        break;
      case Op::kConv2d: {
        const ConvParams& p = n.conv;
        const int eh = (p.kernel_h - 1) * p.dilation + 1, ew = (p.kernel_w - 1) * p.dilation + 1;
        s.h = (in(0).h + 2 * p.pad - eh) / p.stride + 1;
        s.w = (in(0).w + 2 * p.pad - ew) / p.stride + 1;
        if (in(0).h + 2 * p.pad < eh || in(0).w + 2 * p.pad < ew) s.h = s.w = 0;
        break;
      }
      case Op::kPRelu:
        s = Shape{c, in(0).h, in(0).w};
        break;
      case Op::kConcat:
      case Op::kWeightedSum:
        s = Shape{c, in(0).h, in(0).w};
        for (std::size_t i = 1; i < n.inputs.size(); ++i)
          if (in(i).h != s.h || in(i).w != s.w)
            return node_error(n, "inputs have different sizes (" + std::to_string(in(i).w) + "x" +
                                     std::to_string(in(i).h) + " vs " + std::to_string(s.w) + "x" +
                                     std::to_string(s.h) + ")");
        break;
      case Op::kUpsampleNearest:
      case Op::kPixelShuffle: {
        // 64-bit: a crafted model can chain enough upsamplings to overflow int.
        const std::int64_t oh = std::int64_t(in(0).h) * n.factor, ow = std::int64_t(in(0).w) * n.factor;
        if (oh > kMaxSide || ow > kMaxSide)
          return node_error(n, "output would be " + std::to_string(ow) + "x" + std::to_string(oh) +
                                   " pixels, more than " + std::to_string(kMaxSide) + " per side");
        s = Shape{c, int(oh), int(ow)};
        break;
      }
      case Op::kPixelUnshuffle:
        if (in(0).h % n.factor != 0 || in(0).w % n.factor != 0)
          return node_error(n, "input size " + std::to_string(in(0).w) + "x" + std::to_string(in(0).h) +
                                   " is not a multiple of " + std::to_string(n.factor));
        s = Shape{c, in(0).h / n.factor, in(0).w / n.factor};
        break;
    }
    if (s.h <= 0 || s.w <= 0) return node_error(n, "input too small for this layer");
    shapes[n.output] = s;
  }
  return shapes;
}

}  // namespace resr::ir
