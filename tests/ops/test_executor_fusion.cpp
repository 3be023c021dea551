// Fusion rules of the CPU executor on hand-built graphs, against the reference executor: a residual sum moves
// into a conv's epilogue only when its other term already exists at that conv.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#include "graph_builder.h"
#include "support/compare.h"

namespace resr::cpu {
namespace {

TEST(ExecutorFusion, SumOfTwoConvsWaitsForTheLaterOne) {
  auto g = std::make_shared<const ir::Graph>(test::sum_of_two_convs());
  ASSERT_TRUE(ir::verify(*g).ok());
  const Tensor in = test::pattern_input(9, 7);
  auto cpu = compile(g);
  auto ref = ref::compile(g);
  auto got = cpu->run(in);
  auto want = ref->run(in);
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->numel(), want->numel());
  EXPECT_LE(test::max_abs_error(got->data(), want->data(), std::size_t(want->numel())), 1e-4);
}

// The CPU plan copies a concat member that is read after its concat (passes/memory_plan.h): the copy, and the
// storages that then share memory, give the reference's output, run at two sizes and back (arenas re-planned).
TEST(ExecutorFusion, DenseBlocksWithOuterResidualMatchRef) {
  auto g = std::make_shared<const ir::Graph>(test::dense_blocks_with_outer_residual());
  ASSERT_TRUE(ir::verify(*g).ok());
  auto cpu = compile(g);
  auto ref = ref::compile(g);
  for (const auto& [h, w] : {std::pair{11, 9}, std::pair{20, 31}, std::pair{11, 9}}) {
    const Tensor in = test::random_image(h, w);
    auto got = cpu->run(in);
    auto want = ref->run(in);
    ASSERT_TRUE(got.ok() && want.ok());
    ASSERT_EQ(got->numel(), want->numel());
    EXPECT_LE(test::max_abs_error(got->data(), want->data(), std::size_t(want->numel())), 1e-4) << h << "x" << w;
  }
}

}  // namespace
}  // namespace resr::cpu
