// The INT8 weight of ir::ConvQuant's rule (graph.h): qw = clamp(nearbyint(w / scale), -127, 127), with `scale`
// the weight's output channel's. One definition for everything that must agree on qw bit for bit: the .resr
// writer and reader, the reference kernel, and the CPU and CUDA INT8 weight packing.
#pragma once

#include <cmath>
#include <cstdint>

namespace resr::ir {

inline std::int8_t quantize_weight(float w, float scale) {
  const float q = std::nearbyint(w / scale);
  return static_cast<std::int8_t>(q < -127.0f ? -127.0f : (q > 127.0f ? 127.0f : q));
}

}  // namespace resr::ir
