// Reader for PyTorch checkpoints (.pth / .pt) in the zip format torch.save has written since 1.6:
// "<name>/data.pkl" (the pickled object, read by the restricted unpickler in pickle.h: no code runs) and
// "<name>/data/<key>" (raw little-endian storages). The state dict is taken from the first wrapper key holding a
// dict ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net"), else the top
// level; a "module." prefix is removed. Tensors must be float32, float16 or bfloat16 and contiguous (strides are
// checked), and fit their storage as each reference declares it; they are returned as float32.
//
//   Result<WeightMap> w = read_pth("RealESRGAN_x4plus.pth");
//
// Not supported: the legacy pre-1.6 (non-zip) serialization, TorchScript archives, whole pickled modules
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

// True when the bytes start like a zip archive (a .pth written by torch.save).
bool looks_like_pth(std::span<const std::uint8_t> head);

}  // namespace resr::formats
