#include "passes/memory_plan.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace resr::passes {
namespace {

class Planner {
 public:
  Planner(const ir::Graph& g, const std::vector<Step>& steps, std::vector<Shape> shapes, ConcatMembers members)
      : g_(g), steps_(steps), members_(members), where_(g.values.size()), home_(g.values.size()) {
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

  // The step after which nothing reads each value (steps_.size() for the graph's output).
  std::vector<int> last_reads() const {
    std::vector<int> last(g_.values.size(), -1);
    for (int si = 0; si < int(steps_.size()); ++si)
      for (int v : steps_[si].inputs) last[v] = std::max(last[v], si);
    last[g_.output] = int(steps_.size());
    return last;
  }

  // Where a value's channels sit in concats: its own place, else the slot a member living apart is copied to.
  Location slot(int value) const { return where_[value].storage >= 0 ? where_[value] : home_[value]; }

  void place_concats() {
    std::vector<bool> written(g_.values.size(), false);
    for (const Step& s : steps_) written[s.output] = true;
    const std::vector<int> last_read = last_reads();
    std::vector<int> copy_at(g_.values.size(), -1);  // members living apart: the earliest step holding them home
    plan_.concat_copies.assign(steps_.size(), {});
    for (int si = int(steps_.size()) - 1; si >= 0; --si) {
      const Step& s = steps_[si];
      if (s.kind != StepKind::kConcat) continue;
      if (where_[s.output].storage < 0) {
        // Already consecutive in one storage (a prefix of a later concat): nothing to allocate or copy.
        const Location first = slot(s.inputs[0]);
        bool consecutive = first.storage >= 0;
        int channel = first.channel;
        for (int v : s.inputs) {
          consecutive = consecutive && slot(v) == Location{first.storage, channel};
          channel += g_.values[v].channels;
        }
        where_[s.output] = consecutive ? first : Location{new_storage(s.output), 0};
      }
      const Location base = where_[s.output];
      int channel = base.channel;
      for (int v : s.inputs) {
        const Location want{base.storage, channel};
        if (slot(v).storage < 0 && written[v] && !written_by_concat(v)) {
          const bool outlives = last_read[v] > last_read[s.output];
          (members_ == ConcatMembers::kCopyOutliving && outlives ? home_[v] : where_[v]) = want;
        }
        if (where_[v].storage < 0 && home_[v] == want)
          copy_at[v] = si;  // visited last to first: ends at the earliest
        else if (where_[v] != want)
          plan_.concat_copies[si].push_back(v);
        channel += g_.values[v].channels;
      }
    }
    for (std::size_t v = 0; v < copy_at.size(); ++v)
      if (copy_at[v] >= 0) plan_.concat_copies[copy_at[v]].push_back(int(v));
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
  ConcatMembers members_;
  std::vector<Location> where_;
  std::vector<Location> home_;  // kCopyOutliving: the concat slot of a member that lives in a storage of its own
  MemoryPlan plan_;
};

}  // namespace

Result<MemoryPlan> plan_memory(const ir::Graph& g, const std::vector<Step>& steps, int h, int w,
                               const StorageBytes& storage_bytes, std::size_t alignment, ConcatMembers members) {
  RESR_ASSIGN_OR_RETURN(std::vector<Shape> shapes, ir::infer_shapes(g, h, w));
  return Planner(g, steps, std::move(shapes), members).run(storage_bytes, std::max<std::size_t>(alignment, 1));
}

}  // namespace resr::passes
