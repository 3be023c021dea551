// ONNX -> IR. Operator semantics after the ONNX operator specification (onnx/docs/Operators.md); the
// Reshape/Transpose patterns are those torch.onnx (symbolic_opset9/11) emits for pixel_(un)shuffle.
#include "formats/onnx_reader.h"

#include "formats/file_bytes.h"

#ifdef RESR_HAVE_ONNX

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "core/half.h"
#include "formats/weight_map.h"

namespace resr::formats {
namespace {

constexpr std::int64_t kProbeH = 96, kProbeW = 160;  // sizes assumed for dynamic input axes
constexpr std::int64_t kMaxElements = std::int64_t{1} << 28;

struct Const {
  std::vector<std::int64_t> dims;
  std::vector<double> v;
  bool is_int = false;
};

// A feature map: a linear combination of IR values, possibly seen through a reshape/transpose view.
struct Feature {
  std::vector<std::pair<int, float>> terms;
  std::vector<std::int64_t> shape;  // as ONNX sees it (concrete)
  bool transposed = false;
  std::vector<std::int64_t> factored;  // shape when the Transpose was applied
  std::vector<int> perm;
  int pad = 0;  // pending zero padding, folded into the next Conv
};

struct Val {
  bool is_const = false;
  Const c;
  Feature f;
};

std::string dims_string(const std::vector<std::int64_t>& d) {
  WeightTensor t;
  t.shape = d;
  return t.shape_string();
}

Result<std::int64_t> checked_numel(const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0 || (d != 0 && n > kMaxElements / d))
      return Status::error("tensor size " + dims_string(dims) + " is too large");
    n *= d;
  }
  return n;
}

template <class T>
Status from_raw(const std::string& raw, std::int64_t n, std::vector<double>& out) {
  if (raw.size() != std::size_t(n) * sizeof(T))
    return Status::error("raw data holds " + std::to_string(raw.size()) + " bytes, expected " +
                         std::to_string(std::size_t(n) * sizeof(T)));
  out.resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) {
    T x;
    std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
    out[std::size_t(i)] = double(x);
  }
  return {};
}

Result<Const> to_const(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return Status::error("tensor '" + t.name() + "': external data files are not supported");
  Const c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  RESR_ASSIGN_OR_RETURN(std::int64_t n, checked_numel(c.dims));
  const bool raw = t.has_raw_data();
  auto count_error = [&](int have) {
    return Status::error("tensor '" + t.name() + "': holds " + std::to_string(have) + " values, shape " +
                         dims_string(c.dims) + " needs " + std::to_string(n));
  };
  Status st;
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (raw) {
        st = from_raw<float>(t.raw_data(), n, c.v);
      } else {
        if (t.float_data_size() != n) return count_error(t.float_data_size());
        c.v.assign(t.float_data().begin(), t.float_data().end());
      }
      break;
    case onnx::TensorProto::DOUBLE:
      if (raw) {
        st = from_raw<double>(t.raw_data(), n, c.v);
      } else {
        if (t.double_data_size() != n) return count_error(t.double_data_size());
        c.v.assign(t.double_data().begin(), t.double_data().end());
      }
      break;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: {
      std::vector<double> bits;
      if (raw) {
        st = from_raw<std::uint16_t>(t.raw_data(), n, bits);
      } else {
        if (t.int32_data_size() != n) return count_error(t.int32_data_size());
        bits.assign(t.int32_data().begin(), t.int32_data().end());
      }
      const bool half = t.data_type() == onnx::TensorProto::FLOAT16;
      for (double b : bits) {
        const auto h = std::uint16_t(std::int64_t(b) & 0xffff);
        c.v.push_back(half ? half_to_float(h) : bf16_to_float(h));
      }
      break;
    }
    case onnx::TensorProto::INT64:
      c.is_int = true;
      if (raw) {
        st = from_raw<std::int64_t>(t.raw_data(), n, c.v);
      } else {
        if (t.int64_data_size() != n) return count_error(t.int64_data_size());
        c.v.assign(t.int64_data().begin(), t.int64_data().end());
      }
      break;
    case onnx::TensorProto::INT32:
      c.is_int = true;
      if (raw) {
        st = from_raw<std::int32_t>(t.raw_data(), n, c.v);
      } else {
        if (t.int32_data_size() != n) return count_error(t.int32_data_size());
        c.v.assign(t.int32_data().begin(), t.int32_data().end());
      }
      break;
    default:
      return Status::error("tensor '" + t.name() + "': data type " + std::to_string(t.data_type()) +
                           " is not supported");
  }
  if (!st.ok()) return st.with_context("tensor '" + t.name() + "'");
  for (double x : c.v)
    if (!std::isfinite(x)) return Status::error("tensor '" + t.name() + "': non-finite value");
  return c;
}

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const char* name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
std::int64_t attr_int(const onnx::NodeProto& n, const char* name, std::int64_t fallback) {
  const auto* a = find_attr(n, name);
  return a != nullptr ? a->i() : fallback;
}
float attr_float(const onnx::NodeProto& n, const char* name, float fallback) {
  const auto* a = find_attr(n, name);
  return a != nullptr ? a->f() : fallback;
}
std::string attr_string(const onnx::NodeProto& n, const char* name, const std::string& fallback) {
  const auto* a = find_attr(n, name);
  return a != nullptr ? a->s() : fallback;
}
std::vector<std::int64_t> attr_ints(const onnx::NodeProto& n, const char* name) {
  const auto* a = find_attr(n, name);
  if (a == nullptr) return {};
  return {a->ints().begin(), a->ints().end()};
}

std::vector<std::int64_t> drop_ones(const std::vector<std::int64_t>& d) {
  std::vector<std::int64_t> out;
  for (std::int64_t x : d)
    if (x != 1) out.push_back(x);
  return out;
}

class Builder {
 public:
  Result<ir::Graph> build(const onnx::ModelProto& model);

 private:
  Status node(const onnx::NodeProto& n);
  Status set(const std::string& name, Val v) {
    if (name.empty()) return {};
    if (!v.is_const)
      for (const auto& [value, coeff] : v.f.terms) ++refs_[std::size_t(value)];
    vals_[name] = std::move(v);
    return {};
  }
  Result<Val*> get(const onnx::NodeProto& n, int i) {
    if (i >= n.input_size() || n.input(i).empty()) return Status::error("missing input " + std::to_string(i));
    auto it = vals_.find(n.input(i));
    if (it == vals_.end()) return Status::error("input '" + n.input(i) + "' is not defined before use");
    return &it->second;
  }
  const Val* optional(const onnx::NodeProto& n, int i) {
    if (i >= n.input_size() || n.input(i).empty()) return nullptr;
    auto it = vals_.find(n.input(i));
    return it == vals_.end() ? nullptr : &it->second;
  }
  Result<const Const*> get_const(const onnx::NodeProto& n, int i, const char* what) {
    RESR_ASSIGN_OR_RETURN(Val * v, get(n, i));
    if (!v->is_const) return Status::error(std::string(what) + " must be a constant, not computed from the image");
    return &v->c;
  }
  Result<Feature*> get_feature(const onnx::NodeProto& n, int i) {
    RESR_ASSIGN_OR_RETURN(Val * v, get(n, i));
    if (v->is_const) return Status::error("input '" + n.input(i) + "' must be a feature map, not a constant");
    return &v->f;
  }

  int add_node(ir::Node node, const std::string& out_name, const std::vector<std::int64_t>& shape) {
    node.output = g_.add_value(out_name, int(shape[1]));
    g_.values[node.output].producer = int(g_.nodes.size());
    for (int v : node.inputs) ++consumers_[std::size_t(v)];
    g_.nodes.push_back(std::move(node));
    shapes_.push_back(shape);
    refs_.push_back(0);
    consumers_.push_back(0);
    return g_.nodes.back().output;
  }
  Feature plain(int value) const {
    Feature f;
    f.terms = {{value, 1.0f}};
    f.shape = shapes_[std::size_t(value)];
    return f;
  }
  bool is_plain_view(const Feature& f) const {
    return !f.transposed && f.terms.size() == 1 && f.shape == shapes_[std::size_t(f.terms[0].first)];
  }

  Result<int> materialize(Feature& f, const std::string& name);
  Result<int> resolve_view(const Feature& f, const std::string& name);
  Status conv(const onnx::NodeProto& n);
  Status activation(const onnx::NodeProto& n);
  Status arithmetic(const onnx::NodeProto& n);
  Status resize(const onnx::NodeProto& n);
  Status view_op(const onnx::NodeProto& n);
  Status const_op(const onnx::NodeProto& n);

  ir::Graph g_;
  std::vector<std::vector<std::int64_t>> shapes_;  // per IR value, [1, C, H, W]
  std::vector<int> refs_;                          // per IR value: ONNX names referring to it
  std::vector<int> consumers_;                     // per IR value: IR nodes reading it
  std::unordered_map<std::string, Val> vals_;
  std::unordered_map<std::string, int> onnx_uses_;
};

Result<int> Builder::resolve_view(const Feature& f, const std::string& name) {
  const int base = f.terms[0].first;
  const auto& b = shapes_[std::size_t(base)];
  const std::int64_t C = b[1], H = b[2], W = b[3];
  const std::vector<std::int64_t> s = drop_ones(f.shape);
  if (!f.transposed) {
    if (s == drop_ones(b)) return base;  // reshaped and back
    return Status::error("reshape of a feature map to " + dims_string(f.shape) + " is not supported");
  }
  // Normalise the factored shape and permutation without size-1 axes.
  std::vector<int> index(f.factored.size(), -1);
  std::vector<std::int64_t> fac;
  for (std::size_t i = 0; i < f.factored.size(); ++i)
    if (f.factored[i] != 1) {
      index[i] = int(fac.size());
      fac.push_back(f.factored[i]);
    }
  std::vector<int> perm;
  for (int p : f.perm)
    if (index[std::size_t(p)] >= 0) perm.push_back(index[std::size_t(p)]);
  ir::Node node;
  node.name = name;
  node.inputs = {base};
  if (fac.size() == 5 && perm == std::vector<int>{0, 2, 4, 1, 3}) {  // pixel_unshuffle
    const std::int64_t r = fac[2];
    if (r >= 2 && r <= 16 && fac == std::vector<std::int64_t>{C, H / r, r, W / r, r} && H % r == 0 && W % r == 0 &&
        s == std::vector<std::int64_t>{C * r * r, H / r, W / r}) {
      node.op = ir::Op::kPixelUnshuffle;
      node.factor = int(r);
      return add_node(std::move(node), name, {1, C * r * r, H / r, W / r});
    }
  }
  if (fac.size() == 5 && perm == std::vector<int>{0, 3, 1, 4, 2}) {  // pixel_shuffle
    const std::int64_t r = fac[1];
    if (r >= 2 && r <= 16 && C % (r * r) == 0 && fac == std::vector<std::int64_t>{C / (r * r), r, r, H, W} &&
        s == std::vector<std::int64_t>{C / (r * r), H * r, W * r}) {
      node.op = ir::Op::kPixelShuffle;
      node.factor = int(r);
      return add_node(std::move(node), name, {1, C / (r * r), H * r, W * r});
    }
  }
  return Status::error("Reshape/Transpose pattern " + dims_string(f.factored) + " is not a pixel (un)shuffle");
}

Result<int> Builder::materialize(Feature& f, const std::string& name) {
  if (f.pad != 0) return Status::error("Pad is only supported directly before a Conv");
  if (f.transposed || (f.terms.size() == 1 && f.shape != shapes_[std::size_t(f.terms[0].first)])) {
    if (f.terms.size() != 1 || f.terms[0].second != 1.0f) return Status::error("view of a sum is not supported");
    RESR_ASSIGN_OR_RETURN(int v, resolve_view(f, name + ".view"));
    f = plain(v);
    ++refs_[std::size_t(v)];
  }
  if (f.terms.size() == 1 && f.terms[0].second == 1.0f) return f.terms[0].first;
  // Merge repeated values, then one WeightedSum.
  std::vector<std::pair<int, float>> merged;
  for (const auto& term : f.terms) {
    const int v = term.first;
    const float c = term.second;
    auto it = std::find_if(merged.begin(), merged.end(), [v](const auto& m) { return m.first == v; });
    if (it != merged.end()) {
      it->second += c;
    } else {
      merged.emplace_back(v, c);
    }
  }
  ir::Node node;
  node.op = ir::Op::kWeightedSum;
  node.name = name;
  for (const auto& [v, c] : merged) {
    if (shapes_[std::size_t(v)] != f.shape) return Status::error("adding feature maps of different shapes");
    node.inputs.push_back(v);
    node.coeffs.push_back(c);
  }
  if (node.inputs.size() == 1) {  // a scaled single value: c * x + 0 * x
    node.inputs.push_back(node.inputs[0]);
    node.coeffs.push_back(0.0f);
  }
  const int out = add_node(std::move(node), name, f.shape);
  f = plain(out);
  ++refs_[std::size_t(out)];
  return out;
}

Status Builder::conv(const onnx::NodeProto& n) {
  RESR_ASSIGN_OR_RETURN(Feature * x, get_feature(n, 0));
  RESR_ASSIGN_OR_RETURN(const Const* w, get_const(n, 1, "Conv weight"));
  const Const* bias = nullptr;
  if (const Val* b = optional(n, 2)) {
    if (!b->is_const) return Status::error("Conv bias must be a constant");
    bias = &b->c;
  }
  if (attr_int(n, "group", 1) != 1)
    return Status::error("grouped convolution (group " + std::to_string(attr_int(n, "group", 1)) +
                         ") is not supported");
  if (w->dims.size() != 4) return Status::error("Conv weight must have 4 dims, has " + std::to_string(w->dims.size()));
  const int pending_pad = x->pad;
  x->pad = 0;
  RESR_ASSIGN_OR_RETURN(int in, materialize(*x, n.input(0) + ".in"));
  const auto& s = shapes_[std::size_t(in)];
  ir::Node node;
  node.op = ir::Op::kConv2d;
  ir::ConvParams& p = node.conv;
  p.out_channels = int(w->dims[0]);
  p.in_channels = int(w->dims[1]);
  if (w->dims[2] != w->dims[3] || w->dims[2] < 1 || w->dims[2] > 15)
    return Status::error("only square kernels up to 15 are supported");
  if (p.in_channels != s[1])
    return Status::error("weights expect " + std::to_string(p.in_channels) + " input channels, input has " +
                         std::to_string(s[1]));
  p.kernel_h = p.kernel_w = int(w->dims[2]);
  const auto strides = attr_ints(n, "strides"), dil = attr_ints(n, "dilations"), pads = attr_ints(n, "pads");
  const auto ks = attr_ints(n, "kernel_shape");
  if (!ks.empty() && (ks.size() != 2 || ks[0] != p.kernel_h || ks[1] != p.kernel_w))
    return Status::error("kernel_shape does not match the weights");
  auto same2 = [](const std::vector<std::int64_t>& v, std::int64_t fallback) -> std::int64_t {
    if (v.empty()) return fallback;
    for (std::int64_t x : v)
      if (x != v[0]) return -1;
    return v[0];
  };
  const std::int64_t stride = same2(strides, 1), dilation = same2(dil, 1);
  std::int64_t pad = same2(pads, 0);
  const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    if (stride != 1) return Status::error("auto_pad SAME with stride > 1 is not supported");
    pad = (p.kernel_h - 1) * dilation / 2;
    if (((p.kernel_h - 1) * dilation) % 2 != 0) return Status::error("asymmetric auto_pad is not supported");
  } else if (auto_pad == "VALID") {
    pad = 0;
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    return Status::error("unknown auto_pad '" + auto_pad + "'");
  }
  if (stride < 1 || stride > 8 || dilation < 1 || dilation > 8)
    return Status::error("unsupported strides or dilations");
  if (pad < 0 || pad + pending_pad > 16) return Status::error("asymmetric or unsupported padding");
  p.stride = int(stride);
  p.dilation = int(dilation);
  p.pad = int(pad) + pending_pad;
  node.weights.assign(w->v.begin(), w->v.end());
  if (bias != nullptr) {
    if (bias->v.size() != std::size_t(p.out_channels)) return Status::error("bias size does not match the weights");
    node.bias.assign(bias->v.begin(), bias->v.end());
  }
  const std::string& wname = n.input(1);
  const std::string suffix = ".weight";
  node.name = wname.size() > suffix.size() && wname.compare(wname.size() - suffix.size(), suffix.size(), suffix) == 0
                  ? wname.substr(0, wname.size() - suffix.size())
                  : (n.name().empty() ? n.output(0) : n.name());
  node.inputs = {in};
  const std::int64_t eff = (p.kernel_h - 1) * p.dilation + 1;
  const std::int64_t oh = (s[2] + 2 * p.pad - eff) / p.stride + 1, ow = (s[3] + 2 * p.pad - eff) / p.stride + 1;
  if (oh < 1 || ow < 1) return Status::error("input too small for this convolution");
  Val out;
  out.f = plain(add_node(std::move(node), n.output(0), {1, p.out_channels, oh, ow}));
  return set(n.output(0), std::move(out));
}

Status Builder::activation(const onnx::NodeProto& n) {
  RESR_ASSIGN_OR_RETURN(Feature * x, get_feature(n, 0));
  RESR_ASSIGN_OR_RETURN(int in, materialize(*x, n.input(0)));
  const std::string& op = n.op_type();
  std::vector<float> slopes;
  if (op == "PRelu") {
    RESR_ASSIGN_OR_RETURN(const Const* s, get_const(n, 1, "PRelu slope"));
    const std::int64_t c = shapes_[std::size_t(in)][1];
    if (s->v.size() != 1 && s->v.size() != std::size_t(c))
      return Status::error(std::to_string(s->v.size()) + " PRelu slopes for " + std::to_string(c) + " channels");
    slopes.assign(s->v.begin(), s->v.end());
  } else {
    const float slope = op == "Relu" ? 0.0f : attr_float(n, "alpha", 0.01f);
    // Fuse into the producing Conv when nothing else reads its output.
    const int producer = g_.values[std::size_t(in)].producer;
    ir::Node& prod = g_.nodes[std::size_t(producer)];
    if (prod.op == ir::Op::kConv2d && prod.conv.activation == ir::Activation::kNone && onnx_uses_[n.input(0)] == 1 &&
        refs_[std::size_t(in)] == 1 && consumers_[std::size_t(in)] == 0) {
      prod.conv.activation = slope == 0.0f ? ir::Activation::kRelu : ir::Activation::kLeakyRelu;
      prod.conv.activation_slope = slope;
      Val out;
      out.f = plain(in);
      return set(n.output(0), std::move(out));
    }
    slopes = {slope};
  }
  ir::Node node;
  node.op = ir::Op::kPRelu;
  node.name = n.name().empty() ? n.output(0) : n.name();
  node.inputs = {in};
  node.slopes = std::move(slopes);
  Val out;
  out.f = plain(add_node(std::move(node), n.output(0), shapes_[std::size_t(in)]));
  return set(n.output(0), std::move(out));
}

Status Builder::arithmetic(const onnx::NodeProto& n) {
  RESR_ASSIGN_OR_RETURN(Val * a, get(n, 0));
  RESR_ASSIGN_OR_RETURN(Val * b, get(n, 1));
  const std::string& op = n.op_type();
  Val out;
  if (a->is_const && b->is_const) {
    const Const &x = a->c, &y = b->c;
    if (x.v.size() != y.v.size() && x.v.size() != 1 && y.v.size() != 1)
      return Status::error("constant broadcasting beyond scalars is not supported");
    out.is_const = true;
    Const& r = out.c;
    r.dims = x.v.size() >= y.v.size() ? x.dims : y.dims;
    r.is_int = x.is_int && y.is_int;
    const std::size_t count = std::max(x.v.size(), y.v.size());
    for (std::size_t i = 0; i < count; ++i) {
      const double p = x.v[x.v.size() == 1 ? 0 : i], q = y.v[y.v.size() == 1 ? 0 : i];
      double v = op == "Add" ? p + q : op == "Sub" ? p - q : op == "Mul" ? p * q : (q == 0 ? 0 : p / q);
      if (op == "Div" && q == 0) return Status::error("division by zero in a constant");
      if (r.is_int) v = std::trunc(v);
      r.v.push_back(v);
    }
    return set(n.output(0), std::move(out));
  }
  if (!a->is_const && !b->is_const) {
    if (op != "Add" && op != "Sub") return Status::error(op + " of two feature maps is not supported");
    Feature &fa = a->f, &fb = b->f;
    if (!is_plain_view(fa) && fa.terms.size() == 1) RESR_RETURN_IF_ERROR(materialize(fa, n.input(0)).status());
    if (!is_plain_view(fb) && fb.terms.size() == 1) RESR_RETURN_IF_ERROR(materialize(fb, n.input(1)).status());
    if (fa.pad != 0 || fb.pad != 0 || fa.transposed || fb.transposed) return Status::error("unsupported operand");
    if (fa.shape != fb.shape)
      return Status::error("operands have shapes " + dims_string(fa.shape) + " and " + dims_string(fb.shape));
    out.f = fa;
    for (auto [v, c] : fb.terms) out.f.terms.emplace_back(v, op == "Sub" ? -c : c);
    return set(n.output(0), std::move(out));
  }
  const bool const_first = a->is_const;
  const Const& k = const_first ? a->c : b->c;
  Feature f = const_first ? b->f : a->f;
  if (f.pad != 0 || f.transposed) return Status::error("unsupported operand");
  if (op == "Mul" || (op == "Div" && !const_first)) {
    if (k.v.size() != 1) return Status::error(op + " by a non-scalar constant is not supported");
    if (op == "Div" && k.v[0] == 0) return Status::error("division by zero");
    const float s = float(op == "Mul" ? k.v[0] : 1.0 / k.v[0]);
    for (auto& t : f.terms) t.second *= s;
  } else if (op == "Add" || (op == "Sub" && !const_first)) {
    for (double v : k.v)
      if (v != 0) return Status::error("adding a constant to a feature map is not supported");
  } else {
    return Status::error(op + " of a constant by a feature map is not supported");
  }
  out.f = std::move(f);
  return set(n.output(0), std::move(out));
}

Status Builder::resize(const onnx::NodeProto& n) {
  RESR_ASSIGN_OR_RETURN(Feature * x, get_feature(n, 0));
  const std::string& op = n.op_type();
  const std::string mode = attr_string(n, "mode", "nearest");
  if (mode != "nearest") return Status::error("only nearest-neighbour resizing is supported, not '" + mode + "'");
  if (op == "Resize") {
    const std::string ct = attr_string(n, "coordinate_transformation_mode", "half_pixel");
    const std::string nm = attr_string(n, "nearest_mode", "round_prefer_floor");
    const bool half = ct == "half_pixel" || ct == "pytorch_half_pixel" || ct == "tf_half_pixel_for_nn";
    const bool ok =
        (ct == "asymmetric" && nm == "floor") || (half && (nm == "round_prefer_floor" || nm == "round_prefer_ceil"));
    if (!ok) return Status::error("nearest resize with " + ct + "/" + nm + " is not a pixel replication");
  }
  RESR_ASSIGN_OR_RETURN(int in, materialize(*x, n.input(0)));
  const auto& s = shapes_[std::size_t(in)];
  double fh = 0, fw = 0;
  const Const* scales = nullptr;
  const Const* sizes = nullptr;
  std::vector<double> attr_scales;
  if (op == "Upsample" && find_attr(n, "scales") != nullptr) {
    for (float v : find_attr(n, "scales")->floats()) attr_scales.push_back(v);
  } else {
    const int si = (op == "Resize" && n.input_size() >= 3) ? 2 : 1;  // opset 10 Resize: (X, scales)
    const Val* sv = optional(n, si);
    if (sv != nullptr && !sv->is_const) return Status::error("resize scales must be constant");
    if (sv != nullptr && !sv->c.v.empty()) scales = &sv->c;
    const Val* zv = op == "Resize" ? optional(n, 3) : nullptr;
    if (zv != nullptr && !zv->is_const) return Status::error("resize sizes must be constant (computable from shapes)");
    if (zv != nullptr && !zv->c.v.empty()) sizes = &zv->c;
  }
  if (scales != nullptr) attr_scales = scales->v;
  if (!attr_scales.empty()) {
    if (attr_scales.size() != 4 || attr_scales[0] != 1 || attr_scales[1] != 1)
      return Status::error("resize scales must be [1, 1, s, s]");
    fh = attr_scales[2];
    fw = attr_scales[3];
  } else if (sizes != nullptr) {
    if (sizes->v.size() != 4 || sizes->v[0] != s[0] || sizes->v[1] != s[1])
      return Status::error("resize sizes must keep batch and channels");
    fh = sizes->v[2] / double(s[2]);
    fw = sizes->v[3] / double(s[3]);
  } else {
    return Status::error("resize without scales or sizes");
  }
  if (fh != fw || fh != std::floor(fh) || fh < 1 || fh > 16)
    return Status::error("only equal integer resize factors are supported (got " + std::to_string(fh) + " x " +
                         std::to_string(fw) + ")");
  Val out;
  if (fh == 1) {
    out.f = plain(in);
    return set(n.output(0), std::move(out));
  }
  ir::Node node;
  node.op = ir::Op::kUpsampleNearest;
  node.name = n.name().empty() ? n.output(0) : n.name();
  node.inputs = {in};
  node.factor = int(fh);
  const std::vector<std::int64_t> shape = {1, s[1], s[2] * node.factor, s[3] * node.factor};
  out.f = plain(add_node(std::move(node), n.output(0), shape));
  return set(n.output(0), std::move(out));
}

Result<std::vector<std::int64_t>> axes_of(const onnx::NodeProto& n, const Const* input_axes) {
  if (input_axes != nullptr) {
    std::vector<std::int64_t> v;
    for (double x : input_axes->v) v.push_back(std::int64_t(x));
    return v;
  }
  return attr_ints(n, "axes");
}

Result<std::vector<std::int64_t>> reshape_target(const std::vector<std::int64_t>& from, const Const& shape) {
  RESR_ASSIGN_OR_RETURN(std::int64_t total, checked_numel(from));
  std::vector<std::int64_t> to;
  int infer = -1;
  std::int64_t known = 1;
  if (shape.v.size() > 8) return Status::error("reshape to too many dims");
  for (std::size_t i = 0; i < shape.v.size(); ++i) {
    auto d = std::int64_t(shape.v[i]);
    if (d == 0) {
      if (i >= from.size()) return Status::error("reshape copies a dim that does not exist");
      d = from[i];
    }
    if (d == -1) {
      if (infer >= 0) return Status::error("reshape with two -1 dims");
      infer = int(i);
      d = 1;
    } else if (d < 0 || d > kMaxElements) {
      return Status::error("bad reshape dim");
    }
    to.push_back(d);
    if (d != 0 && known > kMaxElements / d) return Status::error("reshape too large");
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) return Status::error("reshape -1 cannot be inferred");
    to[std::size_t(infer)] = total / known;
    known = total;
  }
  if (known != total)
    return Status::error("reshape from " + dims_string(from) + " to " + dims_string(to) + " changes the size");
  return to;
}

Status Builder::view_op(const onnx::NodeProto& n) {
  RESR_ASSIGN_OR_RETURN(Val * x, get(n, 0));
  const std::string& op = n.op_type();
  Val out = *x;
  std::vector<std::int64_t>& dims = out.is_const ? out.c.dims : out.f.shape;
  if (!out.is_const) {
    if (out.f.pad != 0) return Status::error("Pad is only supported directly before a Conv");
    if (out.f.terms.size() != 1 || out.f.terms[0].second != 1.0f) {
      RESR_RETURN_IF_ERROR(materialize(x->f, n.input(0)).status());
      out.f = x->f;
    }
  }
  if (op == "Reshape") {
    RESR_ASSIGN_OR_RETURN(const Const* shape, get_const(n, 1, "Reshape shape"));
    RESR_ASSIGN_OR_RETURN(dims, reshape_target(dims, *shape));
  } else if (op == "Flatten") {
    const std::int64_t axis = attr_int(n, "axis", 1);
    if (axis < 0 || std::size_t(axis) > dims.size()) return Status::error("bad Flatten axis");
    std::int64_t a = 1, b = 1;
    for (std::size_t i = 0; i < dims.size(); ++i) (std::int64_t(i) < axis ? a : b) *= dims[i];
    dims = {a, b};
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    const Val* axes_in = optional(n, 1);
    if (axes_in != nullptr && !axes_in->is_const) return Status::error("axes must be constant");
    RESR_ASSIGN_OR_RETURN(std::vector<std::int64_t> axes, axes_of(n, axes_in ? &axes_in->c : nullptr));
    if (op == "Unsqueeze") {
      const std::int64_t rank = std::int64_t(dims.size() + axes.size());
      for (auto& a : axes) a = a < 0 ? a + rank : a;
      std::sort(axes.begin(), axes.end());
      for (std::int64_t a : axes) {
        if (a < 0 || a > std::int64_t(dims.size()) || dims.size() >= 8) return Status::error("bad Unsqueeze axis");
        dims.insert(dims.begin() + a, 1);
      }
    } else {
      const std::int64_t rank = std::int64_t(dims.size());
      for (auto& a : axes) a = a < 0 ? a + rank : a;
      std::vector<std::int64_t> kept;
      for (std::int64_t i = 0; i < rank; ++i) {
        const bool listed = axes.empty() ? dims[std::size_t(i)] == 1 : std::count(axes.begin(), axes.end(), i) > 0;
        if (listed && dims[std::size_t(i)] != 1) return Status::error("Squeeze of an axis that is not 1");
        if (!listed) kept.push_back(dims[std::size_t(i)]);
      }
      dims = kept;
    }
  } else {  // Transpose
    std::vector<std::int64_t> perm = attr_ints(n, "perm");
    if (perm.empty())
      for (std::size_t i = dims.size(); i-- > 0;) perm.push_back(std::int64_t(i));
    std::vector<bool> seen(dims.size(), false);
    if (perm.size() != dims.size()) return Status::error("Transpose perm does not match the rank");
    for (std::int64_t p : perm) {
      if (p < 0 || p >= std::int64_t(dims.size()) || seen[std::size_t(p)]) return Status::error("bad Transpose perm");
      seen[std::size_t(p)] = true;
    }
    if (out.is_const) {
      if (drop_ones(dims).size() > 1) return Status::error("Transpose of a constant tensor is not supported");
    } else {
      if (out.f.transposed) return Status::error("two Transposes of one feature map are not supported");
      out.f.transposed = true;
      out.f.factored = dims;
      out.f.perm.assign(perm.begin(), perm.end());
    }
    std::vector<std::int64_t> permuted;
    permuted.reserve(perm.size());
    for (std::int64_t p : perm) permuted.push_back(dims[std::size_t(p)]);
    dims = permuted;
  }
  return set(n.output(0), std::move(out));
}

// Ops on constants only (shape arithmetic).
Status Builder::const_op(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  Val out;
  out.is_const = true;
  Const& c = out.c;
  if (op == "Constant") {
    if (const auto* a = find_attr(n, "value")) {
      RESR_ASSIGN_OR_RETURN(c, to_const(a->t()));
    } else if (const auto* f = find_attr(n, "value_float")) {
      c.v = {f->f()};
    } else if (const auto* fs = find_attr(n, "value_floats")) {
      c.v.assign(fs->floats().begin(), fs->floats().end());
      c.dims = {std::int64_t(c.v.size())};
    } else if (const auto* i = find_attr(n, "value_int")) {
      c.v = {double(i->i())};
      c.is_int = true;
    } else if (const auto* is = find_attr(n, "value_ints")) {
      c.v.assign(is->ints().begin(), is->ints().end());
      c.dims = {std::int64_t(c.v.size())};
      c.is_int = true;
    } else {
      return Status::error("Constant without a supported value");
    }
  } else if (op == "Shape") {
    RESR_ASSIGN_OR_RETURN(Val * x, get(n, 0));
    const auto& dims = x->is_const ? x->c.dims : x->f.shape;
    std::int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", std::int64_t(dims.size()));
    const auto r = std::int64_t(dims.size());
    start = std::clamp(start < 0 ? start + r : start, std::int64_t{0}, r);
    end = std::clamp(end < 0 ? end + r : end, std::int64_t{0}, r);
    for (std::int64_t i = start; i < end; ++i) c.v.push_back(double(dims[std::size_t(i)]));
    c.dims = {std::int64_t(c.v.size())};
    c.is_int = true;
  } else if (op == "Gather") {
    RESR_ASSIGN_OR_RETURN(const Const* data, get_const(n, 0, "Gather data"));
    RESR_ASSIGN_OR_RETURN(const Const* idx, get_const(n, 1, "Gather indices"));
    if (data->dims.size() != 1 || attr_int(n, "axis", 0) != 0) return Status::error("only 1-D Gather is supported");
    for (double i : idx->v) {
      auto k = std::int64_t(i);
      if (k < 0) k += std::int64_t(data->v.size());
      if (k < 0 || k >= std::int64_t(data->v.size())) return Status::error("Gather index out of range");
      c.v.push_back(data->v[std::size_t(k)]);
    }
    c.dims = idx->dims;
    c.is_int = data->is_int;
  } else if (op == "Slice") {
    RESR_ASSIGN_OR_RETURN(const Const* data, get_const(n, 0, "Slice data"));
    if (data->dims.size() != 1) return Status::error("only 1-D Slice of constants is supported");
    auto param = [&](int i, const char* attr, std::int64_t fallback) -> Result<std::int64_t> {
      if (const Val* v = optional(n, i)) {
        if (!v->is_const || v->c.v.size() != 1) return Status::error("Slice parameters must be constant scalars");
        return std::int64_t(v->c.v[0]);
      }
      auto a = attr_ints(n, attr);
      return a.empty() ? fallback : a[0];
    };
    const auto r = std::int64_t(data->v.size());
    RESR_ASSIGN_OR_RETURN(std::int64_t start, param(1, "starts", 0));
    RESR_ASSIGN_OR_RETURN(std::int64_t end, param(2, "ends", r));
    RESR_ASSIGN_OR_RETURN(std::int64_t step, param(4, "steps", 1));
    if (step != 1) return Status::error("Slice steps other than 1 are not supported");
    start = std::clamp(start < 0 ? start + r : start, std::int64_t{0}, r);
    end = std::clamp(end < 0 ? end + r : end, std::int64_t{0}, r);
    for (std::int64_t i = start; i < end; ++i) c.v.push_back(data->v[std::size_t(i)]);
    c.dims = {std::int64_t(c.v.size())};
    c.is_int = data->is_int;
  } else if (op == "Cast") {
    RESR_ASSIGN_OR_RETURN(const Const* x, get_const(n, 0, "Cast input"));
    c = *x;
    const std::int64_t to = attr_int(n, "to", 1);
    c.is_int = to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32;
    if (c.is_int)
      for (double& v : c.v) v = std::trunc(v);
  } else if (op == "Floor" || op == "Ceil") {
    RESR_ASSIGN_OR_RETURN(const Const* x, get_const(n, 0, op.c_str()));
    c = *x;
    for (double& v : c.v) v = op == "Floor" ? std::floor(v) : std::ceil(v);
  } else if (op == "ConstantOfShape") {
    RESR_ASSIGN_OR_RETURN(const Const* shape, get_const(n, 0, "ConstantOfShape shape"));
    for (double d : shape->v) c.dims.push_back(std::int64_t(d));
    RESR_ASSIGN_OR_RETURN(std::int64_t count, checked_numel(c.dims));
    double fill = 0;
    if (const auto* a = find_attr(n, "value")) {
      RESR_ASSIGN_OR_RETURN(Const v, to_const(a->t()));
      if (!v.v.empty()) fill = v.v[0];
      c.is_int = v.is_int;
    }
    c.v.assign(std::size_t(count), fill);
  } else {
    return Status::error("unsupported ONNX op '" + op + "'");
  }
  return set(n.output(0), std::move(out));
}

Status Builder::node(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx") return Status::error("custom op domain '" + n.domain() + "'");
  if (n.output_size() < 1) return Status::error("node without outputs");
  if (op == "Conv") return conv(n);
  if (op == "Relu" || op == "LeakyRelu" || op == "PRelu") return activation(n);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return arithmetic(n);
  if (op == "Resize" || op == "Upsample") return resize(n);
  if (op == "Reshape" || op == "Transpose" || op == "Unsqueeze" || op == "Squeeze" || op == "Flatten")
    return view_op(n);
  if (op == "Identity" || op == "Dropout") {
    RESR_ASSIGN_OR_RETURN(Val * x, get(n, 0));
    return set(n.output(0), *x);
  }
  if (op == "Cast") {
    RESR_ASSIGN_OR_RETURN(Val * x, get(n, 0));
    if (!x->is_const) {
      if (attr_int(n, "to", 1) != onnx::TensorProto::FLOAT) return Status::error("Cast of a feature map to non-float");
      return set(n.output(0), *x);
    }
    return const_op(n);
  }
  if (op == "Concat") {
    bool all_const = true;
    for (int i = 0; i < n.input_size(); ++i) {
      RESR_ASSIGN_OR_RETURN(Val * v, get(n, i));
      all_const = all_const && v->is_const;
    }
    if (all_const) {
      Val out;
      out.is_const = true;
      for (int i = 0; i < n.input_size(); ++i) {
        const Const& c = vals_[n.input(i)].c;
        if (c.dims.size() > 1) return Status::error("only 1-D constant Concat is supported");
        out.c.v.insert(out.c.v.end(), c.v.begin(), c.v.end());
        out.c.is_int = c.is_int;
      }
      out.c.dims = {std::int64_t(out.c.v.size())};
      return set(n.output(0), std::move(out));
    }
    const std::int64_t axis = attr_int(n, "axis", 1);
    if (axis != 1 && axis != -3) return Status::error("only channel concatenation (axis 1) is supported");
    ir::Node node;
    node.op = ir::Op::kConcat;
    node.name = n.name().empty() ? n.output(0) : n.name();
    std::vector<std::int64_t> shape;
    for (int i = 0; i < n.input_size(); ++i) {
      RESR_ASSIGN_OR_RETURN(Feature * f, get_feature(n, i));
      RESR_ASSIGN_OR_RETURN(int v, materialize(*f, n.input(i)));
      const auto& s = shapes_[std::size_t(v)];
      if (shape.empty()) {
        shape = s;
      } else {
        if (s[2] != shape[2] || s[3] != shape[3]) return Status::error("Concat inputs have different sizes");
        shape[1] += s[1];
      }
      node.inputs.push_back(v);
    }
    Val out;
    out.f = plain(add_node(std::move(node), n.output(0), shape));
    return set(n.output(0), std::move(out));
  }
  if (op == "DepthToSpace") {
    const std::string mode = attr_string(n, "mode", "DCR");
    if (mode != "CRD") return Status::error("DepthToSpace mode " + mode + " is not supported (PyTorch exports CRD)");
    RESR_ASSIGN_OR_RETURN(Feature * f, get_feature(n, 0));
    RESR_ASSIGN_OR_RETURN(int in, materialize(*f, n.input(0)));
    const std::int64_t r = attr_int(n, "blocksize", 0);
    const auto& s = shapes_[std::size_t(in)];
    if (r < 1 || r > 16 || s[1] % (r * r) != 0) return Status::error("bad DepthToSpace blocksize");
    ir::Node node;
    node.op = ir::Op::kPixelShuffle;
    node.name = n.name().empty() ? n.output(0) : n.name();
    node.inputs = {in};
    node.factor = int(r);
    Val out;
    out.f = plain(add_node(std::move(node), n.output(0), {1, s[1] / (r * r), s[2] * r, s[3] * r}));
    return set(n.output(0), std::move(out));
  }
  if (op == "Pad") {
    RESR_ASSIGN_OR_RETURN(Feature * f, get_feature(n, 0));
    if (attr_string(n, "mode", "constant") != "constant") return Status::error("only zero padding is supported");
    std::vector<std::int64_t> pads = attr_ints(n, "pads");
    if (const Val* p = optional(n, 1)) {
      if (!p->is_const) return Status::error("Pad amounts must be constant");
      pads.clear();
      for (double v : p->c.v) pads.push_back(std::int64_t(v));
    }
    if (const Val* v = optional(n, 2))
      if (!v->is_const || v->c.v.size() != 1 || v->c.v[0] != 0) return Status::error("only zero padding is supported");
    if (attr_float(n, "value", 0.0f) != 0.0f) return Status::error("only zero padding is supported");
    if (pads.size() != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 || pads[2] != pads[3] ||
        pads[2] != pads[6] || pads[2] != pads[7] || pads[2] < 0 || pads[2] > 16)
      return Status::error("only equal spatial padding on all four sides is supported");
    Val out;
    RESR_ASSIGN_OR_RETURN(int in, materialize(*f, n.input(0)));
    out.f = plain(in);
    out.f.pad = int(pads[2]);
    return set(n.output(0), std::move(out));
  }
  return const_op(n);
}

Result<ir::Graph> Builder::build(const onnx::ModelProto& model) {
  const onnx::GraphProto& graph = model.graph();
  for (const auto& init : graph.initializer()) {
    auto c = to_const(init);
    if (!c) return c.status().with_context("initializer");
    Val v;
    v.is_const = true;
    v.c = std::move(*c);
    vals_[init.name()] = std::move(v);
  }
  for (const auto& n : graph.node())
    for (const auto& in : n.input()) ++onnx_uses_[in];
  for (const auto& o : graph.output()) ++onnx_uses_[o.name()];
  // The one image input.
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& in : graph.input())
    if (vals_.count(in.name()) == 0) {
      if (input != nullptr) return Status::error("model has more than one input");
      input = &in;
    }
  if (input == nullptr) return Status::error("model has no input");
  std::vector<std::int64_t> shape = {1, 3, kProbeH, kProbeW};
  if (input->type().has_tensor_type() && input->type().tensor_type().has_shape()) {
    const auto& dims = input->type().tensor_type().shape().dim();
    if (dims.size() != 4) return Status::error("input '" + input->name() + "' must have 4 dims (N, C, H, W)");
    for (int i = 0; i < 4; ++i)
      if (dims[i].has_dim_value()) {
        const std::int64_t d = dims[i].dim_value();
        if ((i == 0 && d != 1) || (i == 1 && d != 3) || d < 1 || d > (1 << 16))
          return Status::error("input '" + input->name() + "' must be 1 x 3 x H x W, has " + std::to_string(d) +
                               " in dim " + std::to_string(i));
        shape[std::size_t(i)] = d;
      }
  }
  ir::Node in;
  in.op = ir::Op::kInput;
  in.name = input->name();
  g_.input = add_node(std::move(in), input->name(), shape);
  Val iv;
  iv.f = plain(g_.input);
  RESR_RETURN_IF_ERROR(set(input->name(), std::move(iv)));

  for (const auto& n : graph.node()) {
    Status st = node(n);
    if (!st.ok()) {
      const std::string label = !n.name().empty() ? n.name() : n.output_size() > 0 ? n.output(0) : std::string("?");
      return st.with_context("node '" + label + "' (" + n.op_type() + ")");
    }
  }
  if (graph.output_size() != 1)
    return Status::error("model must have exactly one output, has " + std::to_string(graph.output_size()));
  auto it = vals_.find(graph.output(0).name());
  if (it == vals_.end() || it->second.is_const) return Status::error("the output is not computed from the input");
  RESR_ASSIGN_OR_RETURN(g_.output, materialize(it->second.f, graph.output(0).name()));
  RESR_RETURN_IF_ERROR(ir::verify(g_));
  return std::move(g_);
}

}  // namespace

bool onnx_supported() {
  return true;
}

Result<ir::Graph> parse_onnx_model(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > std::size_t(INT32_MAX)) return Status::error("file is larger than 2 GiB");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), int(bytes.size())))
    return Status::error("not an ONNX model (protobuf parse failed; truncated?)");
  if (!model.has_graph()) return Status::error("ONNX model has no graph");
  for (const auto& opset : model.opset_import())
    if ((opset.domain().empty() || opset.domain() == "ai.onnx") && (opset.version() < 7 || opset.version() > 21))
      return Status::error("ONNX opset " + std::to_string(opset.version()) + " is not supported (7 to 21)");
  Builder b;
  return b.build(model);
}

}  // namespace resr::formats

#else  // !RESR_HAVE_ONNX

namespace resr::formats {

bool onnx_supported() {
  return false;
}

Result<ir::Graph> parse_onnx_model(std::span<const std::uint8_t>) {
  return Status::error("this resr was built without ONNX support (install libonnx-dev and libprotobuf-dev)");
}

}  // namespace resr::formats

#endif

namespace resr::formats {

Result<ir::Graph> read_onnx_model(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.status().with_context(path);
  auto g = parse_onnx_model(*bytes);
  if (!g) return g.status().with_context(path);
  return g;
}

}  // namespace resr::formats
