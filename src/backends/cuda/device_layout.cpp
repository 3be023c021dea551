#include "backends/cuda/device_layout.h"

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

}  // namespace resr::cuda
