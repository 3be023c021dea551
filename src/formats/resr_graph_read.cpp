// The graph section and weight blob of a .resr file, back into an ir::Graph (layout: resr_sections.h).
// Every field is type- and range-checked before use, and every array is bounds-checked against the blob
// before anything is allocated for it; ir::verify (run by the caller) checks the structure that results.
#include <bit>
#include <cmath>
#include <cstring>
#include <new>

#include "core/fp8.h"
#include "formats/resr_json_fields.h"
#include "formats/resr_sections.h"
#include "formats/weight_arrays.h"

namespace resr::formats::resr_sections {
namespace {

using nlohmann::json;

static_assert(std::endian::native == std::endian::little, "the .resr blob is read with memcpy: little-endian only");

constexpr std::int64_t kMaxChannels = 1 << 16;
constexpr std::int64_t kMaxId = (std::int64_t{1} << 31) - 1;

// Hands out the blob's arrays in file order: each must start at or after the end of the previous one, so the
// arrays of a file cannot overlap and their total size is at most the blob's.
class BlobCursor {
 public:
  explicit BlobCursor(std::span<const std::uint8_t> blob) : blob_(blob) {}

  // ref is [offset, count]; count must equal `expect` unless expect < 0.
  Status take(const JsonFields& f, const char* key, std::size_t elem_bytes, std::int64_t expect,
              std::span<const std::uint8_t>* out, std::size_t* count) {
    const json* ref = nullptr;
    RESR_RETURN_IF_ERROR(f.get_array(key, &ref));
    if (ref->size() != 2) return f.error(key, "must be [offset, count]");
    std::int64_t offset = 0, n = 0;
    RESR_RETURN_IF_ERROR(f.to_int((*ref)[0], std::string(key) + " offset", 0, std::int64_t(blob_.size()), &offset));
    if (std::uint64_t(offset) < cursor_) return f.error(key, "overlaps the previous array in the weight blob");
    const std::uint64_t room = (blob_.size() - std::uint64_t(offset)) / elem_bytes;
    RESR_RETURN_IF_ERROR(f.to_int((*ref)[1], std::string(key) + " count", 0, std::int64_t(room), &n));
    if (expect >= 0 && n != expect)
      return f.error(key, "has " + std::to_string(n) + " elements, expected " + std::to_string(expect));
    *out = blob_.subspan(std::size_t(offset), std::size_t(n) * elem_bytes);
    *count = std::size_t(n);
    cursor_ = std::uint64_t(offset) + std::uint64_t(n) * elem_bytes;
    return {};
  }

  Status take_floats(const JsonFields& f, const char* key, std::int64_t expect, std::vector<float>* out) {
    std::span<const std::uint8_t> bytes;
    std::size_t n = 0;
    RESR_RETURN_IF_ERROR(take(f, key, sizeof(float), expect, &bytes, &n));
    out->resize(n);
    if (n > 0) std::memcpy(out->data(), bytes.data(), bytes.size());
    return {};
  }

 private:
  std::span<const std::uint8_t> blob_;
  std::uint64_t cursor_ = 0;
};

// A conv's FP32 or FP16 weights, located while the nodes are read and decoded afterwards on every core
// (decode_weights): most of a model's bytes.
struct LaterWeights {
  std::size_t node;
  WeightArray weights;
};

Status read_floats(const JsonFields& f, const char* key, std::vector<float>* out) {
  const json* arr = nullptr;
  RESR_RETURN_IF_ERROR(f.get_array(key, &arr));
  out->resize(arr->size());
  for (std::size_t i = 0; i < arr->size(); ++i)
    RESR_RETURN_IF_ERROR(f.to_float((*arr)[i], std::string(key) + "[" + std::to_string(i) + "]", &(*out)[i]));
  return {};
}

constexpr ir::Op kOps[] = {
#define RESR_OP(id, display) ir::Op::k##id,
#include "ir/ops.def"
#undef RESR_OP
};

Status read_op(const JsonFields& f, ir::Op* op) {
  std::string name;
  RESR_RETURN_IF_ERROR(f.get_string("op", &name));
  for (ir::Op o : kOps)
    if (name == ir::op_name(o)) {
      *op = o;
      return {};
    }
  return f.error("op", "'" + name + "' is not an op of this resr");
}

Status read_conv_params(const JsonFields& node, ir::ConvParams* c) {
  const json* cj = nullptr;
  RESR_RETURN_IF_ERROR(node.get("conv", &cj));
  JsonFields f(*cj, node.where() + ": conv");
  RESR_RETURN_IF_ERROR(f.is_object());
  RESR_RETURN_IF_ERROR(f.get_int("in", 1, kMaxChannels, &c->in_channels));
  RESR_RETURN_IF_ERROR(f.get_int("out", 1, kMaxChannels, &c->out_channels));
  RESR_RETURN_IF_ERROR(f.get_int("kernel_h", 1, 15, &c->kernel_h));
  RESR_RETURN_IF_ERROR(f.get_int("kernel_w", 1, 15, &c->kernel_w));
  RESR_RETURN_IF_ERROR(f.get_int("stride", 1, 8, &c->stride));
  RESR_RETURN_IF_ERROR(f.get_int("pad", 0, 16, &c->pad));
  RESR_RETURN_IF_ERROR(f.get_int("dilation", 1, 8, &c->dilation));
  RESR_RETURN_IF_ERROR(f.get_float("slope", &c->activation_slope));
  std::string act;
  RESR_RETURN_IF_ERROR(f.get_string("activation", &act));
  if (act == "none") {
    c->activation = ir::Activation::kNone;
  } else if (act == "relu") {
    c->activation = ir::Activation::kRelu;
  } else if (act == "leaky_relu") {
    c->activation = ir::Activation::kLeakyRelu;
  } else {
    return f.error("activation", "'" + act + "' is not none, relu or leaky_relu");
  }
  return {};
}

Status read_quant(const JsonFields& node, ir::ConvQuant* q) {
  const json* qj = nullptr;
  RESR_RETURN_IF_ERROR(node.get("quant", &qj));
  JsonFields f(*qj, node.where() + ": quant");
  RESR_RETURN_IF_ERROR(f.is_object());
  RESR_RETURN_IF_ERROR(f.get_float("in_scale", &q->in_scale));
  RESR_RETURN_IF_ERROR(f.get_int("in_zero", 0, 255, &q->in_zero));
  RESR_RETURN_IF_ERROR(f.get_bool("asymmetric", &q->asymmetric));
  RESR_RETURN_IF_ERROR(read_floats(f, "weight_scales", &q->weight_scales));
  for (float s : q->weight_scales)
    if (!(s > 0.0f)) return f.error("weight_scales", "must be positive");
  if (f.has("in_channel_scales")) {  // format version 2
    RESR_RETURN_IF_ERROR(read_floats(f, "in_channel_scales", &q->in_channel_scales));
    for (float s : q->in_channel_scales)
      if (!(s > 0.0f)) return f.error("in_channel_scales", "must be positive");
  }
  return {};
}

Status read_conv(const JsonFields& f, BlobCursor* blob, std::size_t index, std::vector<LaterWeights>* later,
                 ir::Node* n) {
  ir::ConvParams& c = n->conv;
  RESR_RETURN_IF_ERROR(read_conv_params(f, &c));
  std::string precision;
  RESR_RETURN_IF_ERROR(f.get_string("precision", &precision));
  if (!ir::parse_precision(precision, &n->quant.precision))
    return f.error("precision", "'" + precision + "' is not fp32, fp16, int8 or fp8");
  const std::int64_t count = std::int64_t(c.out_channels) * c.in_channels * c.kernel_h * c.kernel_w;
  std::span<const std::uint8_t> bytes;
  std::size_t n_weights = 0;
  switch (n->quant.precision) {
    case ir::Precision::kFp32:
    case ir::Precision::kFp16: {
      const bool fp16 = n->quant.precision == ir::Precision::kFp16;
      RESR_RETURN_IF_ERROR(blob->take(f, "weights", fp16 ? 2 : 4, count, &bytes, &n_weights));
      later->push_back({index, WeightArray{bytes, fp16}});
      break;
    }
    case ir::Precision::kInt8: {
      RESR_RETURN_IF_ERROR(read_quant(f, &n->quant));
      if (n->quant.weight_scales.size() != std::size_t(c.out_channels))
        return f.error("weight_scales", "needs one scale per output channel");
      const std::vector<float>& f_in = n->quant.in_channel_scales;
      if (!f_in.empty() && (n->quant.asymmetric || f_in.size() != std::size_t(c.in_channels)))
        return f.error("in_channel_scales", "needs one scale per input channel, and a symmetric input");
      RESR_RETURN_IF_ERROR(blob->take(f, "weights", 1, count, &bytes, &n_weights));
      if (std::memchr(bytes.data(), 0x80, n_weights) != nullptr)
        return f.error("weights", "holds -128, outside the symmetric int8 range");
      const std::size_t per_oc = n_weights / std::size_t(c.out_channels);
      const std::size_t taps = std::size_t(c.kernel_h) * std::size_t(c.kernel_w);
      n->weights.resize(n_weights);
      for (std::size_t o = 0; o < std::size_t(c.out_channels); ++o) {
        const float s = n->quant.weight_scales[o];
        const std::uint8_t* q = bytes.data() + o * per_oc;
        float* w = n->weights.data() + o * per_oc;
        for (std::size_t k = 0; k < per_oc; ++k) {
          const auto code = static_cast<std::int8_t>(q[k]);
          const float factor = f_in.empty() ? 1.0f : f_in[k / taps];
          w[k] = resr_sections::int8_weight_value(code, s, factor);
          // extreme scales (a subnormal or huge factor) can lose the code on the way back: refuse them
          if (!f_in.empty() && (!std::isfinite(w[k]) || ir::quantize_weight(w[k] * factor, s) != code))
            return f.error("in_channel_scales", "with these scales the weights do not requantize to their codes");
        }
      }
      break;
    }
    case ir::Precision::kFp8: {
      RESR_RETURN_IF_ERROR(read_quant(f, &n->quant));
      if (n->quant.asymmetric || n->quant.in_zero != 0) return f.error("quant", "fp8 must be symmetric with zero 0");
      if (n->quant.weight_scales.size() != std::size_t(c.out_channels))
        return f.error("weight_scales", "needs one scale per output channel");
      RESR_RETURN_IF_ERROR(blob->take(f, "weights", 1, count, &bytes, &n_weights));
      const std::size_t per_oc = n_weights / std::size_t(c.out_channels);
      n->weights.resize(n_weights);
      for (std::size_t k = 0; k < n_weights; ++k) {
        if ((bytes[k] & 0x7f) == 0x7f) return f.error("weights", "holds an fp8 NaN");
        n->weights[k] = e4m3_to_float(bytes[k]) * n->quant.weight_scales[k / per_oc];
      }
      break;
    }
  }
  if (f.has("bias")) RESR_RETURN_IF_ERROR(blob->take_floats(f, "bias", c.out_channels, &n->bias));
  return {};
}

Status read_node(const json& j, int index, int value_count, BlobCursor* blob, std::vector<LaterWeights>* later,
                 ir::Graph* g) {
  ir::Node n;
  const std::string where = "node " + std::to_string(index);
  JsonFields f0(j, where);
  RESR_RETURN_IF_ERROR(f0.is_object());
  RESR_RETURN_IF_ERROR(f0.get_string("name", &n.name));
  JsonFields f(j, where + " '" + n.name + "'");
  RESR_RETURN_IF_ERROR(read_op(f, &n.op));
  const json* inputs = nullptr;
  RESR_RETURN_IF_ERROR(f.get_array("inputs", &inputs));
  for (std::size_t i = 0; i < inputs->size(); ++i) {
    std::int64_t v = 0;
    RESR_RETURN_IF_ERROR(f.to_int((*inputs)[i], "inputs", 0, value_count - 1, &v));
    n.inputs.push_back(int(v));
  }
  RESR_RETURN_IF_ERROR(f.get_int("output", 0, value_count - 1, &n.output));
  ir::Value& out = g->values[std::size_t(n.output)];
  if (out.producer >= 0) return f.error("output", "names a value another node already produces");
  out.producer = index;
  switch (n.op) {
    case ir::Op::kConv2d:
      RESR_RETURN_IF_ERROR(read_conv(f, blob, std::size_t(index), later, &n));
      break;
    case ir::Op::kPRelu:
      RESR_RETURN_IF_ERROR(blob->take_floats(f, "slopes", -1, &n.slopes));
      break;
    case ir::Op::kWeightedSum:
      RESR_RETURN_IF_ERROR(read_floats(f, "coeffs", &n.coeffs));
      break;
    case ir::Op::kUpsampleNearest:
    case ir::Op::kPixelShuffle:
    case ir::Op::kPixelUnshuffle:
      RESR_RETURN_IF_ERROR(f.get_int("factor", 1, 16, &n.factor));
      break;
    case ir::Op::kInput:
    case ir::Op::kConcat:
      break;
  }
  g->nodes.push_back(std::move(n));
  return {};
}

// Each located array decoded into its node, on every core.
Status decode_weights(const std::vector<LaterWeights>& later, ir::Graph* g) {
  std::vector<WeightArray> arrays;
  std::vector<std::vector<float>*> outs;
  for (const LaterWeights& w : later) {
    arrays.push_back(w.weights);
    outs.push_back(&g->nodes[w.node].weights);
  }
  std::size_t failed = 0;
  RESR_RETURN_IF_ERROR(decode_weight_arrays(arrays, outs, /*finite_only=*/false, &failed).with_context("graph"));
  return {};
}

}  // namespace

Result<ir::Graph> graph_from_json(const json& j, std::span<const std::uint8_t> blob) {
  JsonFields f(j, "graph");
  RESR_RETURN_IF_ERROR(f.is_object());
  ir::Graph g;
  const json* values = nullptr;
  const json* nodes = nullptr;
  RESR_RETURN_IF_ERROR(f.get_array("values", &values));
  RESR_RETURN_IF_ERROR(f.get_array("nodes", &nodes));
  if (values->size() > std::size_t(kMaxId) || nodes->size() > std::size_t(kMaxId))
    return f.error("", "has too many values or nodes");
  const int value_count = static_cast<int>(values->size());
  for (int i = 0; i < value_count; ++i) {
    JsonFields v((*values)[std::size_t(i)], "graph: value " + std::to_string(i));
    RESR_RETURN_IF_ERROR(v.is_object());
    ir::Value val;
    RESR_RETURN_IF_ERROR(v.get_string("name", &val.name));
    RESR_RETURN_IF_ERROR(v.get_int("channels", 1, kMaxChannels, &val.channels));
    g.values.push_back(std::move(val));
  }
  RESR_RETURN_IF_ERROR(f.get_int("input", 0, value_count - 1, &g.input));
  RESR_RETURN_IF_ERROR(f.get_int("output", 0, value_count - 1, &g.output));
  BlobCursor cursor(blob);
  std::vector<LaterWeights> later;
  for (std::size_t i = 0; i < nodes->size(); ++i) {
    Status st = read_node((*nodes)[i], static_cast<int>(i), value_count, &cursor, &later, &g);
    if (!st.ok()) return st.with_context("graph");
  }
  RESR_RETURN_IF_ERROR(decode_weights(later, &g));
  return g;
}

}  // namespace resr::formats::resr_sections
