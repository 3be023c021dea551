// Reader for .safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [64, 3, 3, 3], "data_offsets": [begin, end]}, "__metadata__": {...}}),
// then the data block the offsets index (relative to its start). F64, F32, F16 and BF16 are read (into float32),
// integer and bool tensors (counters) are checked and left out; offsets must lie inside the data block and match
// dtype x shape exactly. A "module." prefix is removed.
//
//   Result<WeightMap> w = read_safetensors("model.safetensors");
//
// Errors name the tensor: "tensor 'conv_first.weight': data_offsets [0, 100] hold 100 bytes, F32 [8, 3, 3, 3]
// needs 864".
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "core/status.h"
#include "formats/weight_map.h"

namespace resr::formats {

struct SafetensorsFile {
  WeightMap weights;
  std::map<std::string, std::string> metadata;  // "__metadata__" (string values only)
};

[[nodiscard]] Result<SafetensorsFile> parse_safetensors(std::span<const std::uint8_t> bytes);
[[nodiscard]] Result<SafetensorsFile> read_safetensors(const std::string& path);

// Writes a .safetensors file (F32 or F16 data) for `weights`, keys in sorted order.
[[nodiscard]] Status write_safetensors(const std::string& path, const WeightMap& weights, bool fp16,
                                       const std::map<std::string, std::string>& metadata = {});

}  // namespace resr::formats
