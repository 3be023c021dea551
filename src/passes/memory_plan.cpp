#include "passes/memory_plan.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace resr::passes {
namespace {

class Planner {
 public:
  Planner(const ir::Graph& g, const std::vector<Step>& steps, std::vector<Shape> shapes)
      : g_(g), steps_(steps), where_(g.values.size()) {
    plan_.shapes = std::move(shapes);
  }

  MemoryPlan run(const StorageBytes& storage_bytes, std::size_t alignment) {
    place_concats();
    for (const Step& s : steps_)
      if (where_[s.output].storage < 0) where_[s.output] = Location{new_storage(s.output), 0};
    assign_offsets(storage_bytes, alignment);
    plan_.where = std::move(where_);
    return std::move(plan_);
  }

 private:
  int new_storage(int value) {
    const Shape s = plan_.shapes[value];
    plan_.storage_shape.push_back(Shape{g_.values[value].channels, s.h, s.w});
    return int(plan_.storage_shape.size()) - 1;
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

  void assign_offsets(const StorageBytes& storage_bytes, std::size_t alignment) {
    const int ns = int(plan_.storage_shape.size());
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
      size[i] = (storage_bytes(plan_.storage_shape[i]) + alignment - 1) / alignment * alignment;
    std::vector<int> order(ns);
    for (int i = 0; i < ns; ++i) order[i] = i;
    // Largest first; among equals, the earliest written first.
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return size[a] != size[b] ? size[a] > size[b] : first[a] < first[b]; });
    plan_.storage_offset.assign(ns, 0);
    std::vector<int> placed;
    for (int st : order) {
      if (last[st] < 0) continue;
      std::vector<std::pair<std::size_t, std::size_t>> busy;  // [begin, end) of storages alive at the same time
      for (int o : placed)
        if (first[o] <= last[st] && first[st] <= last[o])
          busy.emplace_back(plan_.storage_offset[o], plan_.storage_offset[o] + size[o]);
      std::sort(busy.begin(), busy.end());
      std::size_t at = 0;
      for (const auto& [b, e] : busy) {
        if (at + size[st] <= b) break;
        at = std::max(at, e);
      }
      plan_.storage_offset[st] = at;
      plan_.arena_bytes = std::max(plan_.arena_bytes, at + size[st]);
      placed.push_back(st);
    }
  }

  const ir::Graph& g_;
  const std::vector<Step>& steps_;
  std::vector<Location> where_;
  MemoryPlan plan_;
};

}  // namespace

Result<MemoryPlan> plan_memory(const ir::Graph& g, const std::vector<Step>& steps, int h, int w,
                               const StorageBytes& storage_bytes, std::size_t alignment) {
  RESR_ASSIGN_OR_RETURN(std::vector<Shape> shapes, ir::infer_shapes(g, h, w));
  return Planner(g, steps, std::move(shapes)).run(storage_bytes, std::max<std::size_t>(alignment, 1));
}

}  // namespace resr::passes
