#include "formats/onnx_graph_builder.h"

#include <algorithm>
#include <cmath>

#include "formats/onnx_attributes.h"

namespace resr::formats::onnx_detail {

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

}  // namespace resr::formats::onnx_detail
