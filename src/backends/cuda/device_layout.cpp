#include "backends/cuda/device_layout.h"

#include <algorithm>
#include <utility>

namespace resr::cuda {

Result<DeviceLayout> plan_device_memory(const ir::Graph& g, const std::vector<passes::Step>& steps, int h, int w,
                                        std::size_t element_bytes, Layout layout) {
  auto dense = [&](const Shape& s) { return std::size_t(s.numel()) * element_bytes; };
  RESR_ASSIGN_OR_RETURN(passes::MemoryPlan plan, passes::plan_memory(g, steps, h, w, dense, kArenaAlignment));
  DeviceLayout d;
  d.offset.assign(g.values.size(), DeviceLayout::kNotPlaced);
  d.strides.assign(g.values.size(), Strides{});
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const passes::Location l = plan.where[v];
    if (l.storage < 0) continue;
    const Shape s = plan.shapes[v];
    const std::size_t base = plan.storage_offset[l.storage];
    if (layout == Layout::kNchw) {
      d.offset[v] = base + std::size_t(l.channel) * s.h * s.w * element_bytes;
      d.strides[v] = Strides{std::size_t(s.h) * s.w, 1};
    } else {
      d.offset[v] = base + std::size_t(l.channel) * element_bytes;
      d.strides[v] = Strides{1, std::size_t(plan.storage_shape[l.storage].c)};
    }
  }
  d.shapes = std::move(plan.shapes);
  d.concat_copies = std::move(plan.concat_copies);
  d.arena_bytes = plan.arena_bytes;
  return d;
}

std::uint64_t largest_value_span(const DeviceLayout& layout) {
  std::uint64_t most = 0;
  for (std::size_t v = 0; v < layout.shapes.size(); ++v) {
    const Shape s = layout.shapes[v];
    const Strides st = layout.strides[v];
    most = std::max({most, std::uint64_t(s.c) * st.cs, std::uint64_t(s.h) * std::uint64_t(s.w) * st.ps});
  }
  return most;
}

std::uint64_t max_input_pixels(const ir::Graph& g, const std::vector<passes::Step>& steps, std::size_t element_bytes,
                               Layout layout) {
  constexpr int kSide = 64;
  Result<DeviceLayout> m = plan_device_memory(g, steps, kSide, kSide, element_bytes, layout);
  if (!m.ok()) return 0;
  const std::uint64_t per_pixel = (largest_value_span(*m) + kSide * kSide - 1) / (kSide * kSide);
  return per_pixel == 0 ? 0 : kMaxTensorSpan / per_pixel;
}

}  // namespace resr::cuda
