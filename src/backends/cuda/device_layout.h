// The CUDA backend's memory for one input size: passes/memory_plan.h's storages, dense, in NCHW or NHWC, turned
// into a byte offset and element strides per value. Plain C++, tested without a GPU (tests/unit/cuda_plan).
// A concat member is a channel range of its concatenation's storage: in NCHW one contiguous block, in NHWC a
// strided channel slice (pixel stride = the storage's channel count).
#pragma once

#include <cstddef>
#include <cstdint>
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

// cuDNN's legacy tensor descriptors take int sizes and strides: no value may span more elements than this.
inline constexpr std::uint64_t kMaxTensorSpan = (std::uint64_t{1} << 31) - 1;

// Elements from the start of the layout's largest value to its end (an NHWC concat member spans its storage's
// pixels), the figure cuDNN's descriptors must hold.
std::uint64_t largest_value_span(const DeviceLayout& layout);

// The most input pixels (h * w) whose layout keeps every value within kMaxTensorSpan; the span is linear in the
// pixels (x4plus: 1024 elements an input pixel, its 64 channels at 4x, so about 2.1 M pixels). 0 when the graph
// cannot be laid out.
std::uint64_t max_input_pixels(const ir::Graph& g, const std::vector<passes::Step>& steps, std::size_t element_bytes,
                               Layout layout);

}  // namespace resr::cuda
