// The CUDA backend's memory for one input size: passes/memory_plan.h's storages, dense, in NCHW or NHWC, turned
// into a byte offset and element strides per value. Plain C++, tested without a GPU (tests/unit/cuda_plan).
// A concat member is a channel range of its concatenation's storage: in NCHW one contiguous block, in NHWC a
// strided channel slice (pixel stride = the storage's channel count).
#pragma once

#include <cstddef>
#include <vector>

#include "backends/cuda/element_math.h"
#include "core/status.h"
#include "passes/memory_plan.h"

namespace resr::cuda {

enum class Layout { kNchw, kNhwc };

constexpr std::size_t kArenaAlignment = 256;  // every storage starts on this boundary (cuDNN likes >= 128)

struct DeviceLayout {
  std::vector<Shape> shapes;                    // per value
  std::vector<std::size_t> offset;              // per value: bytes from the arena start (kNotPlaced: never written)
  std::vector<Strides> strides;                 // per value, in elements (element_math.h)
  std::vector<std::vector<int>> concat_copies;  // per step: concat members that must be copied into place
  std::size_t arena_bytes = 0;
  static constexpr std::size_t kNotPlaced = ~std::size_t{0};
};

// `element_bytes`: 4 for fp32 storage, 2 for binary16.
[[nodiscard]] Result<DeviceLayout> plan_device_memory(const ir::Graph& g, const std::vector<passes::Step>& steps, int h,
                                                      int w, std::size_t element_bytes, Layout layout = Layout::kNchw);

}  // namespace resr::cuda
