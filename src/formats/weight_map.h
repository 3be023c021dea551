// WeightMap: the named float tensors of a PyTorch-style state dict, as every weight-only format reader
// (.pth, .safetensors) produces them and every architecture builder (models/) consumes them.
//
//   Result<WeightMap> w = read_pth("RealESRGAN_x4plus.pth");   // "conv_first.weight" -> [64, 3, 3, 3]
//
// Data is always float32 in C (row-major, contiguous) order, whatever the file stored (fp32, fp16, bf16).
// Keys are the module paths with the wrapper prefixes removed ("module.", and the "params_ema" / "params" /
// "state_dict" ... sub-dict of checkpoints: pth_reader.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace resr::formats {

struct WeightTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;           // product(shape) elements
  std::string dtype = "F32";         // what the file stored: "F64", "F32", "F16" or "BF16"
  std::int64_t numel() const;        // product of shape (1 for a scalar)
  std::string shape_string() const;  // "[64, 3, 3, 3]"
};

using WeightMap = std::map<std::string, WeightTensor>;

// Removes a leading "module." (DataParallel) from every key; error when two keys collide.
[[nodiscard]] Result<WeightMap> strip_module_prefix(WeightMap weights);

// a*alpha + b*(1-alpha) tensor by tensor (the denoise-strength blend of realesr-general-x4v3 and its -wdn
// twin). Error when the key sets or shapes differ ("tensor 'body.0.weight': shapes [64, 3, 3, 3] and ...").
[[nodiscard]] Result<WeightMap> blend_weights(const WeightMap& a, const WeightMap& b, float alpha);

// The first `count` keys joined for error messages: "conv_first.weight, body.0.rdb1.conv1.weight, ... (70 in all)".
std::string describe_keys(const WeightMap& weights, std::size_t count = 5);

// bfloat16 -> float (the high half of a float32).
float bf16_to_float(std::uint16_t v);

}  // namespace resr::formats
