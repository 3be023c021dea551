#include "formats/weight_map.h"

#include <cmath>
#include <cstring>

namespace resr::formats {

std::int64_t WeightTensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string WeightTensor::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Result<WeightMap> strip_module_prefix(WeightMap weights) {
  static const std::string kPrefix = "module.";
  bool any = false;
  for (const auto& [k, v] : weights) any = any || k.rfind(kPrefix, 0) == 0;
  if (!any) return weights;
  WeightMap out;
  for (auto& [k, v] : weights) {
    std::string key = k.rfind(kPrefix, 0) == 0 ? k.substr(kPrefix.size()) : k;
    if (out.count(key) != 0) return Status::error("tensor '" + key + "' appears with and without the 'module.' prefix");
    out.emplace(std::move(key), std::move(v));
  }
  return out;
}

Result<WeightMap> blend_weights(const WeightMap& a, const WeightMap& b, float alpha) {
  if (!(alpha >= 0.0f && alpha <= 1.0f)) return Status::error("blend strength must be in [0, 1]");
  if (a.size() != b.size())
    return Status::error("the two models have different tensor counts (" + std::to_string(a.size()) + " and " +
                         std::to_string(b.size()) + ")");
  WeightMap out;
  for (const auto& [key, ta] : a) {
    auto it = b.find(key);
    if (it == b.end()) return Status::error("tensor '" + key + "' is missing from the second model");
    const WeightTensor& tb = it->second;
    if (ta.shape != tb.shape)
      return Status::error("tensor '" + key + "': shapes " + ta.shape_string() + " and " + tb.shape_string() +
                           " differ");
    WeightTensor t;
    t.shape = ta.shape;
    t.dtype = ta.dtype;
    t.data.resize(ta.data.size());
    for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = alpha * ta.data[i] + (1.0f - alpha) * tb.data[i];
    out.emplace(key, std::move(t));
  }
  return out;
}

std::string describe_keys(const WeightMap& weights, std::size_t count) {
  std::string s;
  std::size_t i = 0;
  for (const auto& [k, v] : weights) {
    if (i == count) {
      s += ", ...";
      break;
    }
    s += (i ? ", " : "") + k + " " + v.shape_string();
    ++i;
  }
  if (weights.empty()) return "no tensors";
  return s + " (" + std::to_string(weights.size()) + " tensors)";
}

float bf16_to_float(std::uint16_t v) {
  const std::uint32_t bits = std::uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace resr::formats
