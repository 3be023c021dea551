// The shared memory plan (passes/memory_plan.h), replayed symbolically: each storage is one cell per channel,
// every cell remembers which value's channel was last written into it, and every read checks that the cells it
// reads still hold what it expects. A storage reused while still live, a concat member never copied into place
// or a copy made too late fails here. Graphs are lowered as the CUDA backend does (the default options, in-place
// concats) and as the CPU does (cpu::lowering_options, members that outlive their concat copied in).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/executor.h"
#include "engine/model_loader.h"
#include "ir/split.h"
#include "ops/graph_builder.h"
#include "passes/fused_steps.h"
#include "passes/memory_plan.h"
#include "support/paths.h"

namespace resr::passes {
namespace {

struct Cell {
  int value = -1;
  int channel = -1;
  bool operator==(const Cell&) const = default;
};

class SymbolicRun {
 public:
  SymbolicRun(const ir::Graph& g, const std::vector<Step>& steps, const MemoryPlan& plan)
      : g_(g), steps_(steps), plan_(plan), arena_(plan.arena_bytes) {}

  // Runs every step; false (and a message naming the step) at the first read of a cell that lost its value.
  bool run() {
    for (std::size_t si = 0; si < steps_.size(); ++si) {
      const Step& s = steps_[si];
      for (int v : s.inputs)
        if (!holds(v, s)) return false;
      if (s.kind == StepKind::kConcat) {
        int channel = 0;
        for (int v : s.inputs) {
          const auto& copies = plan_.concat_copies[si];
          if (std::find(copies.begin(), copies.end(), v) != copies.end()) write(s.output, channel, expected(v));
          channel += g_.values[v].channels;
        }
      } else {
        write(s.output, 0, expected(s.output));
      }
    }
    return holds(g_.output, steps_.back());
  }

  const std::string& error() const { return error_; }

 private:
  bool is_concat(int v) const {
    const int p = g_.values[v].producer;
    return p >= 0 && g_.nodes[p].op == ir::Op::kConcat;
  }

  // What a value's cells hold when it is right: a concat's members one after the other, else its own channels.
  std::vector<Cell> expected(int v) const {
    std::vector<Cell> cells;
    if (is_concat(v)) {
      for (int m : g_.nodes[g_.values[v].producer].inputs) {
        const std::vector<Cell> part = expected(m);
        cells.insert(cells.end(), part.begin(), part.end());
      }
    } else {
      for (int c = 0; c < g_.values[v].channels; ++c) cells.push_back(Cell{v, c});
    }
    return cells;
  }

  std::size_t first_cell(int v) const {
    const Location l = plan_.where[v];
    return plan_.storage_offset[std::size_t(l.storage)] + std::size_t(l.channel);
  }

  void write(int v, int channel, const std::vector<Cell>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) arena_[first_cell(v) + std::size_t(channel) + c] = cells[c];
  }

  bool holds(int v, const Step& reader) {
    if (plan_.where[v].storage < 0) {
      error_ = "value " + g_.values[v].name + " has no storage";
      return false;
    }
    const std::vector<Cell> want = expected(v);
    for (std::size_t c = 0; c < want.size(); ++c) {
      if (arena_[first_cell(v) + c] == want[c]) continue;
      error_ = reader.node->name + " reads " + g_.values[v].name + " channel " + std::to_string(c) +
               ", which holds something else";
      return false;
    }
    return true;
  }

  const ir::Graph& g_;
  const std::vector<Step>& steps_;
  const MemoryPlan& plan_;
  std::vector<Cell> arena_;
  std::string error_;
};

// One cell per channel: sizes in the plan are channel counts, whatever the height and width.
std::size_t channel_cells(const Shape& s) {
  return std::size_t(s.c);
}

struct Planned {
  MemoryPlan plan;
  std::size_t copies = 0;
};

enum class Lowering { kDefault, kCpu };

Planned plan_and_replay(const ir::Graph& g, ConcatMembers members, Lowering lowering = Lowering::kDefault) {
  const std::vector<Step> steps = lowering == Lowering::kCpu ? lower_graph(g, cpu::lowering_options()) : lower_graph(g);
  Result<MemoryPlan> plan = plan_memory(g, steps, 12, 10, channel_cells, 1, members);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  SymbolicRun run(g, steps, *plan);
  EXPECT_TRUE(run.run()) << run.error();
  Planned p{std::move(*plan), 0};
  for (const auto& c : p.plan.concat_copies) p.copies += c.size();
  return p;
}

TEST(MemoryPlan, InPlaceConcatsReplayOnSmallGraph) {
  const ir::Graph g = test::dense_blocks_with_outer_residual();
  ASSERT_TRUE(ir::verify(g).ok());
  EXPECT_EQ(plan_and_replay(g, ConcatMembers::kInPlace).copies, 0u);
}

TEST(MemoryPlan, OutlivingMemberIsCopiedOnceAndReplays) {
  const ir::Graph g = test::dense_blocks_with_outer_residual();
  const Planned in_place = plan_and_replay(g, ConcatMembers::kInPlace, Lowering::kCpu);
  const Planned apart = plan_and_replay(g, ConcatMembers::kCopyOutliving, Lowering::kCpu);
  plan_and_replay(g, ConcatMembers::kCopyOutliving);
  // `first` is read by the outer sum after both blocks: it alone lives apart, copied at b0cat1 only.
  EXPECT_EQ(apart.copies, 1u);
  EXPECT_LE(apart.plan.arena_bytes, in_place.plan.arena_bytes);
}

// x4plus: each RRDB's input is copied into its first dense block once (23 copies, the trunk's input among them),
// and the deep body's arena shrinks by a quarter or more. At most 2 x 192 + 2 x 64 channels are live at one step
// (two dense blocks, the trunk's input and an RRDB's input), but an RRDB's input and the next one share a step,
// so first fit lays out two 192-channel slots and three 64-channel ones. In place, the two storages that start
// with the trunk's and an RRDB's input stay live, 192 channels each: four 192-channel slots, and the CPU's own
// RRDB sum step (its epilogue takes one residual) adds a 64-channel one.
TEST(MemoryPlan, X4plusBodyCopiesEachRrdbInputAndShrinks) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto parts = ir::split_graph(*model->graph, ir::find_resolution_cut(*model->graph));
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  for (const Lowering lowering : {Lowering::kDefault, Lowering::kCpu}) {
    const Planned in_place = plan_and_replay(parts->head, ConcatMembers::kInPlace, lowering);
    const Planned apart = plan_and_replay(parts->head, cpu::kConcatMembers, lowering);
    EXPECT_EQ(in_place.copies, 0u);
    EXPECT_EQ(apart.copies, 23u);
    EXPECT_EQ(in_place.plan.arena_bytes, 4u * 192 + (lowering == Lowering::kCpu ? 64 : 0));
    EXPECT_EQ(apart.plan.arena_bytes, 2u * 192 + 3 * 64);
    // The whole model, tail included, replays too.
    plan_and_replay(*model->graph, cpu::kConcatMembers, lowering);
  }
}

TEST(MemoryPlan, X4fastHasNoConcatsToCopy) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(plan_and_replay(*model->graph, ConcatMembers::kCopyOutliving, Lowering::kCpu).copies, 0u);
}

}  // namespace
}  // namespace resr::passes
