// The CUDA executable: the graph on one NVIDIA GPU, node by node on one stream. Convolutions by cuDNN (NCHW,
// batch 1; fp32 with FMA math, or binary16 storage with fp32 accumulation on tensor cores when the graph's
// convs are fp16), everything else by the kernels of kernels.h; a conv's bias, activation and a following PReLU
// are one pass after it. Buffers are planned once per input size and reused (liveness, best fit).
// Not yet: INT8 convs (compile() refuses them), zero-copy concatenation (members are copied), residual sums
// fused into the conv, NHWC, CUDA graphs.
#pragma once

#include <memory>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::cuda {

// Fails with one line when there is no usable GPU or the graph has INT8 convs.
[[nodiscard]] Result<std::unique_ptr<Executable>> compile(std::shared_ptr<const ir::Graph> graph);

}  // namespace resr::cuda
