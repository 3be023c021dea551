// The one line upscale prints when a model with FP8 convolutions will not run on the GPU: FP8 is made for
// Hopper's tensor cores, and the CPU (and the reference backend) emulate it in fp32, slower than the FP32 model
// (docs/quantization.md). For images and videos alike.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

#include "engine/backend_factory.h"
#include "engine/model_loader.h"

namespace resr::cli {

inline void note_fp8_emulated(const engine::LoadedModel& model, const std::string& backend) {
  const bool fp8 = std::any_of(model.graph->nodes.begin(), model.graph->nodes.end(), [](const ir::Node& n) {
    return n.op == ir::Op::kConv2d && n.quant.precision == ir::Precision::kFp8;
  });
  if (fp8 && engine::resolve_backend(*model.graph, backend) != "cuda")
    std::fprintf(stderr,
                 "resr: note: %s has FP8 convolutions, which the CPU emulates in fp32 (slower than the FP32 model; "
                 "FP8 is for Hopper GPUs)\n",
                 model.param_path.c_str());
}

}  // namespace resr::cli
