// plan_fp8_blocks (backends/cuda/fp8_blocks.h) on the real models: x4plus's dense blocks share one E4M3 copy each,
// written by the convs that produce its parts; x4fast (no concats) has none; an INT8 conv in a block leaves the
// parts it reads in fp16, and its own, to rounding passes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/cuda/fp8_blocks.h"
#include "engine/model_loader.h"
#include "passes/fused_steps.h"
#include "support/paths.h"

namespace resr::cuda {
namespace {

using passes::StepKind;

// Every conv FP8 with one input scale per concat root (as quantize_graph leaves them), but `int8` INT8.
void make_fp8(ir::Graph& g, const std::string& int8 = "") {
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    n.quant = ir::ConvQuant{};
    n.quant.precision = n.name == int8 ? ir::Precision::kInt8 : ir::Precision::kFp8;
    n.quant.in_scale = 0.01f * float(g.concat_root(n.inputs[0]) % 7 + 1);
    n.quant.weight_scales.assign(std::size_t(n.conv.out_channels), 0.01f);
  }
}

TEST(CudaFp8Blocks, X4plusDenseBlocksShareOneCopyWrittenByTheirConvs) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  make_fp8(g);
  const std::vector<passes::Step> steps = passes::lower_graph(g);
  const Fp8BlockPlan plan = plan_fp8_blocks(g, steps);
  ASSERT_EQ(plan.blocks.size(), 69u);  // 23 RRDBs of 3 dense blocks
  for (const Fp8Block& b : plan.blocks) {
    ASSERT_EQ(b.readers.size(), 5u);
    EXPECT_EQ(b.channels, 192);
    EXPECT_EQ(b.offsets, (std::vector<int>{0, 64, 96, 128, 160}));
    // x (the block input) is also a residual, so it stays fp16 and is rounded before the first reader; x1..x4
    // are read only through the block: their convs write them in E4M3.
    EXPECT_EQ(b.direct, (std::vector<bool>{false, true, true, true, true}));
    for (std::size_t k = 1; k < 5; ++k) {
      const int writer = b.readers[k - 1];
      EXPECT_EQ(plan.writer_of[std::size_t(writer)], (std::pair<int, int>{int(&b - plan.blocks.data()), int(k)}));
      // Part k is rounded (observed runs only: it is direct) before reader k, the first that reads it.
      ASSERT_EQ(plan.round_before[b.readers[k]].size(), 1u);
      EXPECT_EQ(plan.round_before[b.readers[k]][0].second, int(k));
    }
    ASSERT_EQ(plan.round_before[b.readers[0]].size(), 1u);
    EXPECT_EQ(plan.round_before[b.readers[0]][0].second, 0);
    EXPECT_EQ(b.scale, steps[b.readers[0]].node->quant.in_scale);
  }
  EXPECT_GE(plan.slots, 1);
  EXPECT_LE(plan.slots, 2);
  // Blocks in one slot never live at the same time.
  for (std::size_t i = 1; i < plan.blocks.size(); ++i)
    if (plan.blocks[i].slot == plan.blocks[i - 1].slot) {
      EXPECT_LT(plan.blocks[i - 1].readers.back(), plan.blocks[i].readers.front());
    }
  int readers = 0;
  for (int b : plan.reader_of) readers += b >= 0;
  EXPECT_EQ(readers, 69 * 5);
}

TEST(CudaFp8Blocks, AnInt8ConvLeavesItsPartToARoundingPass) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  // The third conv of the first dense block: an INT8 producer and reader.
  std::string third;
  int convs = 0;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && ++convs == 4) third = n.name;  // conv_first, then the block's convs
  make_fp8(g, third);
  const std::vector<passes::Step> steps = passes::lower_graph(g);
  const Fp8BlockPlan plan = plan_fp8_blocks(g, steps);
  ASSERT_EQ(plan.blocks.size(), 69u);
  const Fp8Block& first = plan.blocks.front();
  ASSERT_EQ(first.readers.size(), 4u);  // the INT8 conv reads its own input
  // The INT8 conv reads x, x1, x2 in fp16 (through its concat), so their producers write fp16; its own output x3
  // is no FP8 conv's; only x4 is written in E4M3 by its conv.
  EXPECT_EQ(first.direct, (std::vector<bool>{false, false, false, false, true}));
  // x2 and x3 are first read by the fourth conv (reader 2), so both are rounded before it.
  ASSERT_EQ(plan.round_before[first.readers[2]].size(), 2u);
  EXPECT_EQ(plan.round_before[first.readers[2]][0].second, 2);
  EXPECT_EQ(plan.round_before[first.readers[2]][1].second, 3);
}

TEST(CudaFp8Blocks, X4fastHasNone) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  make_fp8(g);
  const Fp8BlockPlan plan = plan_fp8_blocks(g, passes::lower_graph(g));
  EXPECT_TRUE(plan.blocks.empty());
  EXPECT_EQ(plan.slots, 0);
}

}  // namespace
}  // namespace resr::cuda
