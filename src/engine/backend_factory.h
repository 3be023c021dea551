// Backend selection by name: "cpu" (AVX2/FMA when the CPU has it, portable kernels otherwise) or "ref".
#pragma once

#include <memory>
#include <string_view>

#include "backends/executable.h"
#include "ir/graph.h"

namespace resr::engine {

[[nodiscard]] Result<std::unique_ptr<Executable>> make_executable(std::shared_ptr<const ir::Graph> graph,
                                                                  std::string_view backend);

}  // namespace resr::engine
