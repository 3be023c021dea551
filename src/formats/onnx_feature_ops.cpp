#include "formats/onnx_graph_builder.h"

#include <algorithm>
#include <cmath>

#include "formats/onnx_attributes.h"

namespace resr::formats::onnx_detail {

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

}  // namespace resr::formats::onnx_detail
