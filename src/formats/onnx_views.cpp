#include "formats/onnx_graph_builder.h"

#include <algorithm>

#include "formats/onnx_attributes.h"

namespace resr::formats::onnx_detail {

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

}  // namespace resr::formats::onnx_detail
