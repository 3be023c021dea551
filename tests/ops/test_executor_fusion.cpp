// Fusion rules of the CPU executor on hand-built graphs, against the reference executor: a residual sum moves
// into a conv's epilogue only when its other term already exists at that conv.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#include "graph_builder.h"
#include "support/compare.h"

namespace resr::cpu {
namespace {

TEST(ExecutorFusion, SumOfTwoConvsWaitsForTheLaterOne) {
  test::GraphBuilder b(7);
  const int x = b.input();
  const int a = b.conv("a", x, 8, 3, 0.0f);
  const int c = b.conv("c", x, 8, 3, 0.0f);
  b.g.output = b.sum("s", a, c, 0.5f, 2.0f);
  ASSERT_TRUE(ir::verify(b.g).ok());
  auto g = std::make_shared<const ir::Graph>(std::move(b.g));
  Tensor in(3, 9, 7);
  for (std::int64_t i = 0; i < in.numel(); ++i) in.data()[i] = float((i * 37) % 101) / 100.0f;
  auto cpu = compile(g);
  auto ref = ref::compile(g);
  auto got = cpu->run(in);
  auto want = ref->run(in);
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->numel(), want->numel());
  EXPECT_LE(test::max_abs_error(got->data(), want->data(), std::size_t(want->numel())), 1e-4);
}

}  // namespace
}  // namespace resr::cpu
