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

// The weight a code q stands for: q * scale / f, with f the input channel's per-channel factor (1 when per
// tensor). Folding it by f and quantizing gives q back (a .resr reader checks it for the factors it reads).
inline float int8_weight_value(std::int8_t q, float scale, float channel_factor) {
  return float(q) * scale / channel_factor;
}

}  // namespace resr::ir
