// A conservative estimate of the memory a whole-image run needs, checked against what the machine has, so
// that an image too large for one pass is refused with a clear message instead of dying in the allocator.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "ir/graph.h"

namespace resr::engine {

// Bytes for the largest values alive together (the three largest activations, padded) plus input/output.
[[nodiscard]] Result<std::uint64_t> estimate_run_bytes(const ir::Graph& g, int h, int w);
// MemAvailable from /proc/meminfo (0 when unknown).
std::uint64_t available_memory_bytes();
// Error "needs about X GiB, Y GiB available" when the estimate exceeds what is available.
[[nodiscard]] Status check_memory(const ir::Graph& g, int h, int w);

}  // namespace resr::engine
