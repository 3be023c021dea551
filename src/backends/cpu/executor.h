// The CPU executable: the graph lowered to a list of steps over PaddedPlanes buffers.
//
// At compile time: 3x3 convs get packed weights and absorb a following PReLU and a following residual
// WeightedSum into their epilogue; every other conv shape falls back to the reference kernel.
// Per input size (cached): a memory plan in which each Concat's inputs are written straight into channel
// slices of one buffer (zero-copy dense blocks), and buffers are reused once their values are dead.
// Kernel choice: conv3x3_direct_f32_avx2 when the CPU has AVX2+FMA, else conv3x3_direct_f32_generic;
// RESR_IMPL=generic forces the portable kernel.
#pragma once

#include <memory>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::cpu {

std::unique_ptr<Executable> compile(std::shared_ptr<const ir::Graph> graph);

}  // namespace resr::cpu
