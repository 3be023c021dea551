// Weight arrays as model files store them (little-endian fp32 or binary16), decoded into float vectors: appended
// chunk by chunk rather than zero-filled first (for a model's weights the zero-fill costs about as much as the
// decoding), and, for a whole model, on every core.
//
//   std::vector<WeightArray> arrays = ...;                   // located while parsing
//   std::vector<std::vector<float>*> outs = ...;             // each array's destination
//   std::size_t failed = 0;
//   Status st = decode_weight_arrays(arrays, outs, /*finite_only=*/true, &failed);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace resr::formats {

struct WeightArray {
  std::span<const std::uint8_t> bytes;  // 4 bytes a value, or 2 with fp16
  bool fp16 = false;
};

// binary16 (little-endian, 2 bytes each) to float, equal to resr::half_to_float for every input but written
// without branches so that it vectorizes: loading an fp16 x4plus is dominated by this loop.
void widen_binary16(const std::uint8_t* src, std::size_t n, float* dst);

// One array's values appended to `out`. Error: "non-finite weight value" when finite_only and one is.
[[nodiscard]] Status decode_weight_array(const WeightArray& array, bool finite_only, std::vector<float>* out);

// Each array into *outs[i], in parallel. Error: the first failing array in order (its index in *failed): as
// above, or "out of memory".
[[nodiscard]] Status decode_weight_arrays(const std::vector<WeightArray>& arrays,
                                          const std::vector<std::vector<float>*>& outs, bool finite_only,
                                          std::size_t* failed);

}  // namespace resr::formats
