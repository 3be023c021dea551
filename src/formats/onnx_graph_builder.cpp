#include "formats/onnx_graph_builder.h"

#include "formats/onnx_attributes.h"

namespace resr::formats::onnx_detail {

Status Builder::node(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx") return Status::error("custom op domain '" + n.domain() + "'");
  if (n.output_size() < 1) return Status::error("node without outputs");
  if (op == "Conv") return conv(n);
  if (op == "Relu" || op == "LeakyRelu" || op == "PRelu") return activation(n);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return arithmetic(n);
  if (op == "Resize" || op == "Upsample") return resize(n);
  if (clamps_a_feature(n)) return final_clamp(n);
  if (op == "Reshape" || op == "Transpose" || op == "Unsqueeze" || op == "Squeeze" || op == "Flatten")
    return view_op(n);
  if (op == "Identity" || op == "Dropout") {
    RESR_ASSIGN_OR_RETURN(Val * x, get(n, 0));
    return set(n.output(0), *x);
  }
  if (op == "Cast") {
    RESR_ASSIGN_OR_RETURN(Val * x, get(n, 0));
    if (!x->is_const) {
      // Feature maps keep resr's own precision: a cast between float types is passed through (fp16 exports that
      // keep float32 inputs and outputs cast the input to float16 and the output back).
      const auto to = attr_int(n, "to", 1);
      if (to != onnx::TensorProto::FLOAT && to != onnx::TensorProto::FLOAT16 && to != onnx::TensorProto::BFLOAT16 &&
          to != onnx::TensorProto::DOUBLE)
        return Status::error("Cast of a feature map to non-float");
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
    auto c = to_const(init, &external_);
    if (!c) return c.status().with_context("initializer");
    Val v;
    v.is_const = true;
    v.c = std::move(*c);
    vals_[init.name()] = std::move(v);
  }
  for (const auto& n : graph.node())
    for (const auto& in : n.input()) ++onnx_uses_[in];
  for (const auto& o : graph.output()) ++onnx_uses_[o.name()];
  find_final_clamps(graph);
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

}  // namespace resr::formats::onnx_detail
