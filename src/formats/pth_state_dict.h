// The part of reading a .pth that both torch.save formats share: finding the state dict in the unpickled object
// (under the first wrapper key training code uses whose value is a dict: "params_ema", "params-ema", "params",
// "state_dict", "model_state_dict", "model", "net", nested up to 4 deep; else the top level) and turning its tensor
// records into float32 weights. A dict with no tensor of its own but dicts of them (a GAN's {"generator": ...,
// "discriminator": ...}) gives them all, as "generator.conv_first.weight" ..., for models/detect.h to choose. Where a
// storage's bytes live differs by format, so the caller looks them up.
//
//   auto bytes_of = [&](const pickle::Object& storage) -> Result<std::span<const std::uint8_t>> { ... };
//   RESR_ASSIGN_OR_RETURN(WeightMap w, state_dict_weights(root, bytes_of));
//
// Weights are the float tensors (float64/32/16, bfloat16); integer and bool ones (counters) are left out. Every
// element must lie inside its storage as the reference declares it (at any strides: channels_last weights are saved
// permuted), and the storage's bytes must hold what the reference declares. A "module." prefix is removed. Errors name
// the tensor: "tensor 'body.0.weight': storage '3' holds 10 elements, the tensor needs 1728".
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "core/status.h"
#include "formats/pickle.h"
#include "formats/weight_map.h"

namespace resr::formats {

// The raw little-endian bytes of one storage (an Object of kind kStorage: key in .s, element count in .i).
using StorageBytes = std::function<Result<std::span<const std::uint8_t>>(const pickle::Object& storage)>;

[[nodiscard]] Result<WeightMap> state_dict_weights(const pickle::Object* root, const StorageBytes& bytes_of);

}  // namespace resr::formats
