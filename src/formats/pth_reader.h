// Reader for PyTorch checkpoints (.pth / .pt) in the zip format torch.save has written since 1.6:
// "<name>/data.pkl" (the pickled object, read by the restricted unpickler in pickle.h: no code runs) and
// "<name>/data/<key>" (raw little-endian storages); the legacy pre-1.6 format is passed to formats/pth_legacy.h.
// The state dict is found and checked as formats/pth_state_dict.h says (wrapper keys, "module." prefix; float32,
// float16 or bfloat16 tensors, at any strides, that fit their storage); tensors are returned as float32.
//
//   Result<WeightMap> w = read_pth("RealESRGAN_x4plus.pth");
//
// Not supported: the tar-based format of PyTorch 0.1-0.3, TorchScript archives, whole pickled modules
// (their class global is refused by name), big-endian files, quantized or sparse tensors.
// Errors name the tensor: "tensor 'body.0.weight': storage '3' holds 10 elements, the tensor needs 1728".
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"
#include "formats/weight_map.h"

namespace resr::formats {

// In-memory contents; messages carry no file name.
[[nodiscard]] Result<WeightMap> parse_pth(std::span<const std::uint8_t> bytes);

// The file; messages start with the path.
[[nodiscard]] Result<WeightMap> read_pth(const std::string& path);

// True when the bytes start like a .pth written by torch.save (a zip archive, or the legacy format's magic).
bool looks_like_pth(std::span<const std::uint8_t> head);

}  // namespace resr::formats
