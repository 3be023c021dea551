// The CPU executable: the graph lowered to a list of steps over PaddedPlanes buffers.
//
// At compile time: 3x3 convs get packed weights and absorb a following PReLU and a following residual
// WeightedSum into their epilogue; every other conv shape falls back to the reference kernel. INT8 3x3 convs
// (ir::Precision::kInt8) run Conv3x3Int8Impl (conv3x3_int8_impl.h) the same way, their input quantized per run
// into a scratch buffer sized for the largest (counted in working_bytes); when an INT8 conv's output is read only
// by the next step, another INT8 conv, it is written already quantized for that conv into a second scratch buffer
// (no fp32 tensor, no quantization pass; off while an observer is set). Other INT8 convs run ref::conv2d_int8.
// FP8 3x3 convs are emulated: the input's E4M3 values go into the same scratch (as fp32), and the fp32 kernel runs
// on them with the weights' E4M3 values (ir::fp8_weight_values); other FP8 convs run ref::conv2d_fp8.
// Per input size (cached): a memory plan in which each Concat's inputs are written straight into channel
// slices of one buffer (zero-copy dense blocks), except a member read after the concat, which is copied in
// (ConcatMembers::kCopyOutliving), and buffers are reused once their values are dead.
// Kernel choice per conv: conv3x3_impl.h (Winograd or direct; AVX-512, AVX2 or portable; RESR_IMPL overrides).
#pragma once

#include <memory>

#include "backends/cpu/float_products.h"
#include "backends/executable.h"
#include "ir/graph.h"
#include "passes/fused_steps.h"
#include "passes/memory_plan.h"

namespace resr::cpu {

// How the CPU lowers a graph (its epilogue takes one residual and per-channel PReLU slopes; only 3x3
// stride-1 pad-1 convs fuse) and places concat members: for tests that check the CPU's plan without running it.
passes::LoweringOptions lowering_options();
inline constexpr passes::ConcatMembers kConcatMembers = passes::ConcatMembers::kCopyOutliving;

class PackCache;

// pack_cache: where packed convs are looked up and kept (pack_cache.h; it must outlive the executable's
// compile), or null to pack every conv. products: what the FP32 and FP16 convs may multiply in
// (conv3x3_impl.h; FP8 ones, emulated in fp32, always use fp32).
std::unique_ptr<Executable> compile(std::shared_ptr<const ir::Graph> graph, PackCache* pack_cache = nullptr,
                                    FloatProducts products = FloatProducts::kFp32);

}  // namespace resr::cpu
