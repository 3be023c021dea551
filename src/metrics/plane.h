// FloatPlane: one channel of float32 samples, row-major, no padding; the working format of the NIQE code
// (BasicSR keeps these planes in float32, and matching it means storing them the same way).
#pragma once

#include <cstddef>
#include <vector>

namespace resr::metrics {

struct FloatPlane {
  int width = 0, height = 0;
  std::vector<float> data;  // width * height samples

  FloatPlane() = default;
  FloatPlane(int w, int h) : width(w), height(h), data(std::size_t(w) * std::size_t(h), 0.0f) {}
  float& at(int x, int y) { return data[std::size_t(y) * width + x]; }
  float at(int x, int y) const { return data[std::size_t(y) * width + x]; }
};

}  // namespace resr::metrics
