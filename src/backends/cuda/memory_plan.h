// Where every value of a lowered graph lives for one input size: byte offsets in one device arena. Plain C++,
// tested without a GPU (tests/unit/cuda_plan).
//
// Values live in storages of batch 1, NCHW or NHWC (Layout); a value is a channel range of its storage, so a
// concatenation is free when its members are written in place: concats are visited from last to first, the
// largest claims a storage, the earlier (smaller) ones become prefixes of it, and members are placed at their
// channel offsets, so x4plus's dense blocks write x1..x4 straight into the 192-channel input of conv5.
// Members already placed elsewhere (a value in two concats at different offsets) are listed for copying.
// Storages share memory when their lifetimes (first write to last read, over steps) do not overlap.
#pragma once

#include <cstddef>
#include <vector>

#include "backends/cuda/fused_steps.h"
#include "core/status.h"
#include "core/tensor.h"

namespace resr::cuda {

enum class Layout { kNchw, kNhwc };

struct MemoryPlan {
  std::vector<Shape> shapes;                    // per value
  std::vector<std::size_t> offset;              // per value: bytes from the arena start (kNotPlaced: never written)
  std::vector<Strides> strides;                 // per value, in elements (element_math.h)
  std::vector<std::vector<int>> concat_copies;  // per step: concat members that must be copied into place
  std::size_t arena_bytes = 0;
  static constexpr std::size_t kNotPlaced = ~std::size_t{0};
};

constexpr std::size_t kArenaAlignment = 256;  // every storage starts on this boundary (cuDNN likes >= 128)

// `element_bytes`: 4 for fp32 storage, 2 for binary16.
[[nodiscard]] Result<MemoryPlan> plan_memory(const ir::Graph& g, const std::vector<Step>& steps, int h, int w,
                                             std::size_t element_bytes, Layout layout = Layout::kNchw);

}  // namespace resr::cuda
