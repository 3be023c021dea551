// Backend selection by name: "cpu" (AVX2/FMA when the CPU has it, portable kernels otherwise), "ref", or "cuda"
// (when built with it; not yet picked by "auto", which stays "cpu" until the CUDA backend has been validated on
// a GPU).
#pragma once

#include <memory>
#include <string_view>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::engine {

[[nodiscard]] Result<std::unique_ptr<Executable>> make_executable(std::shared_ptr<const ir::Graph> graph,
                                                                  std::string_view backend);

}  // namespace resr::engine
