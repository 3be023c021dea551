#include "backends/cuda/memory_plan.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace resr::cuda {
namespace {

struct Location {
  int storage = -1;
  int channel = 0;
};

class Planner {
 public:
  Planner(const ir::Graph& g, const std::vector<Step>& steps, std::vector<Shape> shapes, std::size_t element_bytes,
          Layout layout)
      : g_(g), steps_(steps), element_bytes_(element_bytes), layout_(layout), where_(g.values.size()) {
    plan_.shapes = std::move(shapes);
  }

  MemoryPlan run() {
    place_concats();
    for (const Step& s : steps_)
      if (where_[s.output].storage < 0) where_[s.output] = Location{new_storage(s.output), 0};
    const std::vector<std::size_t> storage_offset = assign_offsets();
    plan_.offset.assign(g_.values.size(), MemoryPlan::kNotPlaced);
    plan_.strides.assign(g_.values.size(), Strides{});
    for (std::size_t v = 0; v < g_.values.size(); ++v) {
      const Location l = where_[v];
      if (l.storage < 0) continue;
      const Shape s = plan_.shapes[v];
      if (layout_ == Layout::kNchw) {
        plan_.offset[v] = storage_offset[l.storage] + std::size_t(l.channel) * plane_bytes(int(v));
        plan_.strides[v] = Strides{std::size_t(s.h) * s.w, 1};
      } else {
        plan_.offset[v] = storage_offset[l.storage] + std::size_t(l.channel) * element_bytes_;
        plan_.strides[v] = Strides{1, std::size_t(storage_channels_[l.storage])};
      }
    }
    return std::move(plan_);
  }

 private:
  std::size_t plane_bytes(int value) const {
    return std::size_t(plan_.shapes[value].h) * plan_.shapes[value].w * element_bytes_;
  }

  int new_storage(int value) {
    storage_channels_.push_back(g_.values[value].channels);
    storage_bytes_.push_back(std::size_t(g_.values[value].channels) * plane_bytes(value));
    return int(storage_bytes_.size()) - 1;
  }

  bool written_by_concat(int value) const {
    return std::any_of(steps_.begin(), steps_.end(),
                       [&](const Step& s) { return s.output == value && s.kind == StepKind::kConcat; });
  }

  void place_concats() {
    std::vector<bool> written(g_.values.size(), false);
    for (const Step& s : steps_) written[s.output] = true;
    plan_.concat_copies.assign(steps_.size(), {});
    for (int si = int(steps_.size()) - 1; si >= 0; --si) {
      const Step& s = steps_[si];
      if (s.kind != StepKind::kConcat) continue;
      if (where_[s.output].storage < 0) {
        // Already consecutive in one storage (a prefix of a later concat): nothing to allocate or copy.
        const Location first = where_[s.inputs[0]];
        bool consecutive = first.storage >= 0;
        int channel = first.channel;
        for (int v : s.inputs) {
          consecutive = consecutive && where_[v].storage == first.storage && where_[v].channel == channel;
          channel += g_.values[v].channels;
        }
        where_[s.output] = consecutive ? first : Location{new_storage(s.output), 0};
      }
      const Location base = where_[s.output];
      int channel = base.channel;
      for (int v : s.inputs) {
        const Location want{base.storage, channel};
        if (where_[v].storage < 0 && written[v] && !written_by_concat(v)) where_[v] = want;
        if (where_[v].storage != want.storage || where_[v].channel != want.channel)
          plan_.concat_copies[si].push_back(v);
        channel += g_.values[v].channels;
      }
    }
  }

  // Lifetimes over steps, then first fit in the arena, largest storages first.
  std::vector<std::size_t> assign_offsets() {
    const int ns = int(storage_bytes_.size());
    std::vector<int> first(ns, INT_MAX), last(ns, -1);
    for (int si = 0; si < int(steps_.size()); ++si) {
      const Step& s = steps_[si];
      const int so = where_[s.output].storage;
      first[so] = std::min(first[so], si);
      last[so] = std::max(last[so], si);
      for (int v : s.inputs) last[where_[v].storage] = std::max(last[where_[v].storage], si);
    }
    last[where_[g_.output].storage] = int(steps_.size());
    std::vector<std::size_t> size(ns);
    for (int i = 0; i < ns; ++i)
      size[i] = (storage_bytes_[i] + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    std::vector<int> order(ns);
    for (int i = 0; i < ns; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return size[a] > size[b]; });
    std::vector<std::size_t> offset(ns, 0);
    std::vector<int> placed;
    for (int st : order) {
      if (last[st] < 0) continue;
      std::vector<std::pair<std::size_t, std::size_t>> busy;  // [begin, end) of storages alive at the same time
      for (int o : placed)
        if (first[o] <= last[st] && first[st] <= last[o]) busy.emplace_back(offset[o], offset[o] + size[o]);
      std::sort(busy.begin(), busy.end());
      std::size_t at = 0;
      for (const auto& [b, e] : busy) {
        if (at + size[st] <= b) break;
        at = std::max(at, e);
      }
      offset[st] = at;
      plan_.arena_bytes = std::max(plan_.arena_bytes, at + size[st]);
      placed.push_back(st);
    }
    return offset;
  }

  const ir::Graph& g_;
  const std::vector<Step>& steps_;
  std::size_t element_bytes_;
  Layout layout_;
  std::vector<Location> where_;
  std::vector<int> storage_channels_;
  std::vector<std::size_t> storage_bytes_;
  MemoryPlan plan_;
};

}  // namespace

Result<MemoryPlan> plan_memory(const ir::Graph& g, const std::vector<Step>& steps, int h, int w,
                               std::size_t element_bytes, Layout layout) {
  RESR_ASSIGN_OR_RETURN(std::vector<Shape> shapes, ir::infer_shapes(g, h, w));
  return Planner(g, steps, std::move(shapes), element_bytes, layout).run();
}

}  // namespace resr::cuda
