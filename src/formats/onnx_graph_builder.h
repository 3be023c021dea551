// ONNX -> IR, node by node (the ONNX reader's core; onnx_reader.h is its entry point). Operator semantics after
// the ONNX operator specification (onnx/docs/Operators.md); the Reshape/Transpose patterns are those torch.onnx
// (symbolic_opset9/11) emits for pixel_(un)shuffle. Each ONNX name stands for a Val: a constant (shape
// arithmetic, weights) or a feature map, kept as a linear combination of IR values seen through a pending
// reshape/transpose view or zero padding, and materialized as IR nodes only where an op needs a plain value (so
// Add/Sub/Mul chains become one WeightedSum, Reshape+Transpose+Reshape one PixelShuffle, Pad the next Conv's).
// Ops are in onnx_graph_builder.cpp (dispatch, Concat, Pad, DepthToSpace), onnx_feature_ops.cpp (Conv,
// activations, arithmetic, Resize), onnx_views.cpp (views, materializing) and onnx_const_ops.cpp.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"
#include "formats/onnx_constants.h"
#include "ir/graph.h"

namespace resr::formats::onnx_detail {

inline constexpr std::int64_t kProbeH = 96, kProbeW = 160;  // sizes assumed for dynamic input axes

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

class Builder {
 public:
  // `model_folder`: where the model was read from, for its external data files (empty: none can be read).
  explicit Builder(std::string model_folder = {}) : external_(std::move(model_folder)) {}

  // The graph of `model`: its one image input (N = 1, 3 channels; dynamic sizes taken as kProbeH x kProbeW), its
  // nodes in order, its one output. Errors name the node.
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
  // onnx_final_clamp.cpp: a clamp the model ends with, dropped.
  bool clamps_a_feature(const onnx::NodeProto& n);
  void find_final_clamps(const onnx::GraphProto& graph);
  Status final_clamp(const onnx::NodeProto& n);

  ir::Graph g_;
  std::vector<std::vector<std::int64_t>> shapes_;  // per IR value, [1, C, H, W]
  std::vector<int> refs_;                          // per IR value: ONNX names referring to it
  std::vector<int> consumers_;                     // per IR value: IR nodes reading it
  std::unordered_map<std::string, Val> vals_;
  std::unordered_map<std::string, int> onnx_uses_;
  std::unordered_set<std::string> final_clamps_;  // outputs of the clamps the model ends with
  ExternalData external_;
};

}  // namespace resr::formats::onnx_detail
