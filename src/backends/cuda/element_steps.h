// The CUDA executable's steps other than convolutions, each launched on one stream with kernels.h: PReLU,
// concatenation (copying only the members the memory plan could not place in their slot), weighted sums,
// nearest upsampling, pixel (un)shuffle, and the shuffle-add-upsample of a model's tail. Element type `t` for
// inputs and output alike.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <vector>

#include "backends/cuda/kernels.h"
#include "core/status.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

struct ElementStepPlaces {
  std::function<Planes(int)> planes;      // value -> its planes in the arena
  const std::vector<int>* concat_copies;  // kConcat: the members to copy into their slot
  const float* prelu_slopes;              // kPRelu: the node's slopes on the device
};

// Errors: a step kind this file does not run (convolutions, inputs: the executable's own), a weighted sum of
// more than 4 inputs.
[[nodiscard]] Status launch_element_step(const passes::Step& s, const ElementStepPlaces& at, DType t,
                                         cudaStream_t stream);

}  // namespace resr::cuda
