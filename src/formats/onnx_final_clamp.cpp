// A clamp the model ends with (Clip, or Max / Min against a constant; exports of `torch.clamp(out, 0, 1)`), maybe
// followed by a Cast or Identity: resr's conversion to pixels clamps to 0..1 anyway, so such a clamp is dropped when
// it cuts no more than that. (Under TTA the eight orientations are averaged before that clamp, where the model
// clamped each: pixels past 0 or 1 in some orientation can differ slightly.) Anywhere else a clamp would have to be
// computed, and is refused.
#include <cmath>
#include <cstdio>
#include <limits>

#include "formats/onnx_attributes.h"
#include "formats/onnx_graph_builder.h"

namespace resr::formats::onnx_detail {
namespace {

bool is_clamp_op(const std::string& op) {
  return op == "Clip" || op == "Max" || op == "Min";
}

std::string number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", double(v));
  return buf;
}

}  // namespace

bool Builder::clamps_a_feature(const onnx::NodeProto& n) {
  if (!is_clamp_op(n.op_type())) return false;
  for (int i = 0; i < n.input_size(); ++i)
    if (const Val* v = optional(n, i); v != nullptr && !v->is_const) return true;
  return false;
}

void Builder::find_final_clamps(const onnx::GraphProto& graph) {
  if (graph.output_size() != 1) return;
  std::unordered_map<std::string, const onnx::NodeProto*> producer;
  for (const auto& n : graph.node())
    for (const auto& out : n.output()) producer[out] = &n;
  auto is_constant = [&](const std::string& name) {
    const auto it = producer.find(name);
    return vals_.count(name) != 0 || (it != producer.end() && it->second->op_type() == "Constant");
  };
  // From the output back, through clamps each the only reader of what it clamps, and what passes values through
  // unchanged (an fp16 export's closing Cast back to float32, Identity).
  std::string name = graph.output(0).name();
  while (onnx_uses_[name] == 1) {
    const auto it = producer.find(name);
    if (it == producer.end() || it->second->input_size() < 1) return;
    const onnx::NodeProto& n = *it->second;
    const std::string& op = n.op_type();
    if (op == "Cast" || op == "Identity" || op == "Dropout") {  // a Cast to non-float is refused where it is built
      name = n.input(0);
      continue;
    }
    if (!is_clamp_op(op)) return;
    final_clamps_.insert(name);
    if (op == "Clip") {
      name = n.input(0);
    } else {
      if (n.input_size() != 2 || is_constant(n.input(0)) == is_constant(n.input(1))) return;
      name = is_constant(n.input(0)) ? n.input(1) : n.input(0);
    }
  }
}

Status Builder::final_clamp(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  float low = -std::numeric_limits<float>::infinity(), high = std::numeric_limits<float>::infinity();
  int feature = 0;
  if (op == "Clip") {
    low = attr_float(n, "min", low);  // opset 6 to 10: attributes; from 11: optional inputs
    high = attr_float(n, "max", high);
    for (int i = 1; i <= 2 && i < n.input_size(); ++i)
      if (const Val* bound = optional(n, i)) {
        if (!bound->is_const || bound->c.v.size() != 1) return Status::error("Clip bounds must be constant scalars");
        (i == 1 ? low : high) = float(bound->c.v[0]);
      }
  } else {
    if (n.input_size() != 2) return Status::error(op + " of a feature map takes one constant");
    RESR_ASSIGN_OR_RETURN(const Val* first, get(n, 0));
    feature = first->is_const ? 1 : 0;
    RESR_ASSIGN_OR_RETURN(const Const* c, get_const(n, 1 - feature, "the bound"));
    if (c->v.size() != 1) return Status::error(op + " with a feature map takes one constant number");
    (op == "Max" ? low : high) = float(c->v[0]);
  }
  if (final_clamps_.count(n.output(0)) == 0)
    return Status::error(op + " is supported only where the model ends (resr clamps its output to 0..1 anyway)");
  if (std::isnan(low) || std::isnan(high) || low > 0 || high < 1)
    return Status::error(op + " to [" + number(low) + ", " + number(high) +
                         "] where the model ends cuts more than resr's own clamp to 0..1");
  RESR_ASSIGN_OR_RETURN(Val * x, get(n, feature));
  return set(n.output(0), *x);
}

}  // namespace resr::formats::onnx_detail
