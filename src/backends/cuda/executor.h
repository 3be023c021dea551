// The CUDA executable: the graph on one NVIDIA GPU, on one stream, lowered by fused_steps.h and laid out by
// memory_plan.h (one arena per input size; concatenations in place). Convolutions by cuDNN (batch 1;
// fp32 with FMA math, or binary16 storage with fp32 accumulation on tensor cores when the graph's convs are
// fp16), algorithms measured once per geometry (cudnnFind); each conv's bias, activation, PReLU and residual
// sums are one pass after it; everything else by kernels.h. The steps of a plan are captured into a CUDA graph
// on its first run and replayed (RESR_CUDA_GRAPHS=0 turns that off). RESR_CUDA_LAYOUT=nhwc stores activations
// NHWC (concat members as strided channel slices) instead of NCHW. The pixel path (run_pixels) moves 8/16-bit
// pixels through pinned buffers and converts them on the device. INT8 convs (symmetric tables) quantize their
// input into int8 NHWC, run cuDNN's int8 configuration into int32 sums, and dequantize in the epilogue (which
// quantizes straight into the next INT8 conv's input when that conv alone reads it).
// In NHWC, a legacy conv for which cuDNN has no algorithm on its channel slices runs on dense copies of them
// (Plan::staged; RESR_CUDA_STAGE_SLICES=1 stages every such conv, for tests); planning reports how many.
// RESR_CUDA_FUSED=1 (fp16 and INT8 models; off by default: compiling costs seconds per input size) runs each conv with
// its epilogue as one cuDNN graph (fused_conv.h), NHWC; RESR_CUDA_FUSED=auto, in fp16 models, keeps a conv's graph only
// where its output agreed with its legacy path's on test data and it ran faster (conv_path.h; checked and timed at
// planning, the choice plan-cached), or where cuDNN has no legacy algorithm for it. A fused conv whose legacy search
// fails runs fused only; an observed run that needs its legacy path then fails, naming it. FP8 (E4M3) convs exist only
// as fused graphs, so FP8 models fuse unless RESR_CUDA_FUSED=0: the input is rounded to E4M3 into a packed buffer, then
// the graph runs; an FP8 conv that cuDNN cannot fuse (channels not a multiple of 8) runs in fp16 with its FP8-rounded
// weights. Fused plans and measured algorithms come from the plan cache (plan_cache.h) when an earlier process made
// them on this GPU, and go there when not; RESR_CUDA_DYNAMIC_SHAPES=1 builds fused graphs for any size, sharing their
// compiled kernels across input sizes (fused_conv.h ShapeKernels). New graphs compile on every core for the GPU's
// properties (cuDNN >= 9.8; on the handle, one at a time, with RESR_CUDA_PARALLEL_COMPILE=0, with dynamic shapes, or
// where the plan cache's verdict says such plans failed on this GPU or a process ended while first running them; no
// verdict is kept without a plan cache). Not yet: asymmetric INT8 (refused).
#pragma once

#include <memory>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::cuda {

// Fails with one line when there is no usable GPU or the graph has asymmetric INT8 convs. fp32_as_fp16: a graph
// whose convs are all FP32 runs in FP16 (its weights rounded to binary16 on upload), as a graph of FP16 convs does.
[[nodiscard]] Result<std::unique_ptr<Executable>> compile(std::shared_ptr<const ir::Graph> graph,
                                                          bool fp32_as_fp16 = false);

}  // namespace resr::cuda
