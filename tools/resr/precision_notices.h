// The one-line notes a command prints when a precision it was asked for cannot take effect as asked, for images
// and videos alike.
#pragma once

#include <string>

#include "engine/model_loader.h"

namespace resr::cli {

// --bf16 where the model may run on the CPU (backend cpu or auto) and the CPU lacks AVX512_BF16, or on the
// reference backend, which stays exact. The GPU ignores --bf16 (it runs FP16 already).
void note_bf16_unavailable(bool bf16, const std::string& backend);

// A model with FP8 convolutions that will not run on the GPU: FP8 is made for Hopper's tensor cores, and the CPU
// (and the reference backend) emulate it in fp32, slower than the FP32 model (docs/quantization.md).
void note_fp8_emulated(const engine::LoadedModel& model, const std::string& backend);

}  // namespace resr::cli
