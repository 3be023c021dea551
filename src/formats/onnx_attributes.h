// A node's attributes by name, with the caller's default where one is absent; and the axes of
// Squeeze / Unsqueeze, an input (opset 13) or an attribute (before).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/onnx_constants.h"

namespace resr::formats::onnx_detail {

inline const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const char* name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
inline std::int64_t attr_int(const onnx::NodeProto& n, const char* name, std::int64_t fallback) {
  const auto* a = find_attr(n, name);
  return a != nullptr ? a->i() : fallback;
}
inline float attr_float(const onnx::NodeProto& n, const char* name, float fallback) {
  const auto* a = find_attr(n, name);
  return a != nullptr ? a->f() : fallback;
}
inline std::string attr_string(const onnx::NodeProto& n, const char* name, const std::string& fallback) {
  const auto* a = find_attr(n, name);
  return a != nullptr ? a->s() : fallback;
}
inline std::vector<std::int64_t> attr_ints(const onnx::NodeProto& n, const char* name) {
  const auto* a = find_attr(n, name);
  if (a == nullptr) return {};
  return {a->ints().begin(), a->ints().end()};
}

inline Result<std::vector<std::int64_t>> axes_of(const onnx::NodeProto& n, const Const* input_axes) {
  if (input_axes != nullptr) {
    std::vector<std::int64_t> v;
    for (double x : input_axes->v) v.push_back(std::int64_t(x));
    return v;
  }
  return attr_ints(n, "axes");
}

}  // namespace resr::formats::onnx_detail
