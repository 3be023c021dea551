// plan_code_blocks (passes/code_blocks.h) on the real models, with FP8 convs as the members (the CUDA backend's
// choice): x4plus's dense blocks share one copy each, written by the convs that produce its parts; x4fast (no
// concats) has none; an INT8 conv in a block leaves the parts it reads, and its own, to rounding passes; readers
// with different input quantizations share nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/model_loader.h"
#include "passes/code_blocks.h"
#include "passes/fused_steps.h"
#include "support/paths.h"

namespace resr::passes {
namespace {

// The FP8 convs, as members; channel offsets in 16-byte vectors.
CodeBlockPlan plan_fp8(const ir::Graph& g, const std::vector<Step>& steps) {
  std::vector<bool> fp8(steps.size());
  for (std::size_t s = 0; s < steps.size(); ++s)
    fp8[s] = steps[s].kind == StepKind::kConv && steps[s].node->quant.precision == ir::Precision::kFp8;
  return plan_code_blocks(g, steps, fp8, 16);
}

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

TEST(CodeBlocks, X4plusDenseBlocksShareOneCopyWrittenByTheirConvs) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  make_fp8(g);
  const std::vector<Step> steps = lower_graph(g);
  const CodeBlockPlan plan = plan_fp8(g, steps);
  ASSERT_EQ(plan.blocks.size(), 69u);  // 23 RRDBs of 3 dense blocks
  for (const CodeBlock& b : plan.blocks) {
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
  // Each block's four concats are read only by its readers: none needs to run where every reader reads codes.
  int concats = 0, unread = 0;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    concats += steps[s].kind == StepKind::kConcat;
    unread += plan.only_codes_read[s];
    if (plan.only_codes_read[s]) {
      EXPECT_EQ(steps[s].kind, StepKind::kConcat);
    }
  }
  EXPECT_EQ(concats, 69 * 4);
  EXPECT_EQ(unread, 69 * 4);
}

// A block exists only where every reader quantizes its input alike: a scale or a zero point of its own in one
// reader leaves that dense block without a shared copy (each conv then quantizes its own input).
// Another scale, zero point, or per-channel scales that disagree on a shared channel (or are missing).
TEST(CodeBlocks, ReadersWithAnotherInputQuantizationShareNothing) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  for (const std::string change : {"zero point", "scale", "channel scales", "no channel scales"}) {
    ir::Graph g = *model->graph;
    make_fp8(g);
    const bool channels = change == "channel scales" || change == "no channel scales";
    int convs = 0;
    for (ir::Node& n : g.nodes) {
      if (n.op != ir::Op::kConv2d) continue;
      if (channels) {  // INT8 with per-channel scales, equal on shared channels: every block still forms
        n.quant.precision = ir::Precision::kInt8;
        n.quant.in_channel_scales.assign(std::size_t(n.conv.in_channels), 1.0f);
      }
      if (++convs != 3) continue;  // the first dense block's second conv
      if (change == "zero point") n.quant.in_zero = 3;
      if (change == "scale") n.quant.in_scale *= 2;
      if (change == "channel scales") n.quant.in_channel_scales[5] = 2.0f;
      if (change == "no channel scales") n.quant.in_channel_scales.clear();
    }
    const std::vector<Step> steps = lower_graph(g);
    std::vector<bool> members(steps.size());
    for (std::size_t s = 0; s < steps.size(); ++s) members[s] = steps[s].kind == StepKind::kConv;
    const CodeBlockPlan plan = plan_code_blocks(g, steps, members, 16);
    EXPECT_EQ(plan.blocks.size(), 68u) << change;
  }
}

// INT8 and FP8 members reading one dense block (with equal scales, even): one block per precision, alive at the
// same time (two slots); the parts both read are quantized by passes, not written by their convs.
TEST(CodeBlocks, Int8AndFp8ReadersOfOneDenseBlockMakeTwoBlocks) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  make_fp8(g);
  int convs = 0;
  for (ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && (++convs == 3 || convs == 4)) n.quant.precision = ir::Precision::kInt8;
  const std::vector<Step> steps = lower_graph(g);
  std::vector<bool> quantized(steps.size());
  for (std::size_t s = 0; s < steps.size(); ++s) quantized[s] = steps[s].kind == StepKind::kConv;
  const CodeBlockPlan plan = plan_code_blocks(g, steps, quantized, 16);
  ASSERT_EQ(plan.blocks.size(), 70u);
  std::vector<const CodeBlock*> first;  // the first dense block's: FP8 (conv1, 4, 5) and INT8 (conv2, 3)
  for (const CodeBlock& b : plan.blocks)
    if (b.readers.size() != 5) first.push_back(&b);
  ASSERT_EQ(first.size(), 2u);
  const CodeBlock& fp8 = first[0]->precision == ir::Precision::kFp8 ? *first[0] : *first[1];
  const CodeBlock& int8 = first[0]->precision == ir::Precision::kFp8 ? *first[1] : *first[0];
  EXPECT_EQ(fp8.readers.size(), 3u);
  EXPECT_EQ(int8.readers.size(), 2u);
  EXPECT_EQ(int8.precision, ir::Precision::kInt8);
  EXPECT_EQ(int8.channels, 128);  // conv3 reads x, x1, x2
  EXPECT_EQ(fp8.direct, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(int8.direct, (std::vector<bool>{false, false, false}));
  EXPECT_NE(fp8.slot, int8.slot);
}

// The CPU's choice: INT8 convs as members, offsets in groups of 4 channels. x4plus's blocks are the same.
TEST(CodeBlocks, Int8MembersInGroupsOfFour) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  make_fp8(g);
  for (ir::Node& n : g.nodes) n.quant.precision = ir::Precision::kInt8;
  const std::vector<Step> steps = lower_graph(g);
  std::vector<bool> int8(steps.size());
  for (std::size_t s = 0; s < steps.size(); ++s) int8[s] = steps[s].kind == StepKind::kConv;
  const CodeBlockPlan plan = plan_code_blocks(g, steps, int8, 4);
  ASSERT_EQ(plan.blocks.size(), 69u);
  EXPECT_EQ(plan.blocks.front().direct, (std::vector<bool>{false, true, true, true, true}));
  // No FP8 conv: no block with FP8 members.
  EXPECT_TRUE(plan_fp8(g, steps).blocks.empty());

  // The first block's conv3 outside (not a member, as an fp32 conv on the CPU): it reads concat(x, x1, x2), so
  // that block's concats must all run (a member that outlives them is copied in by the first one only); x1, x2
  // (which it reads) and x3 (which it writes) are not direct; the other 68 blocks' concats still need not run.
  std::vector<bool> but_one = int8;
  int convs = 0;
  std::size_t conv3 = 0;
  for (std::size_t s = 0; s < steps.size(); ++s)
    if (steps[s].kind == StepKind::kConv && ++convs == 4) conv3 = s;
  but_one[conv3] = false;
  const CodeBlockPlan outside = plan_code_blocks(g, steps, but_one, 4);
  ASSERT_EQ(outside.blocks.size(), 69u);
  int unread = 0;
  for (const bool u : outside.only_codes_read) unread += u;
  EXPECT_EQ(unread, 68 * 4);
  const CodeBlock& first = outside.blocks.front();
  EXPECT_EQ(first.readers.size(), 4u);
  EXPECT_EQ(first.direct, (std::vector<bool>{false, false, false, false, true}));
}

TEST(CodeBlocks, AnInt8ConvLeavesItsPartToARoundingPass) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  // The third conv of the first dense block: an INT8 producer and reader.
  std::string third;
  int convs = 0;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && ++convs == 4) third = n.name;  // conv_first, then the block's convs
  make_fp8(g, third);
  const std::vector<Step> steps = lower_graph(g);
  const CodeBlockPlan plan = plan_fp8(g, steps);
  ASSERT_EQ(plan.blocks.size(), 69u);
  const CodeBlock& first = plan.blocks.front();
  ASSERT_EQ(first.readers.size(), 4u);  // the INT8 conv reads its own input
  // The INT8 conv reads x, x1, x2 in fp16 (through its concat), so their producers write fp16; its own output x3
  // is no FP8 conv's; only x4 is written in E4M3 by its conv.
  EXPECT_EQ(first.direct, (std::vector<bool>{false, false, false, false, true}));
  // x2 and x3 are first read by the fourth conv (reader 2), so both are rounded before it.
  ASSERT_EQ(plan.round_before[first.readers[2]].size(), 2u);
  EXPECT_EQ(plan.round_before[first.readers[2]][0].second, 2);
  EXPECT_EQ(plan.round_before[first.readers[2]][1].second, 3);
}

TEST(CodeBlocks, X4fastHasNone) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  make_fp8(g);
  const CodeBlockPlan plan = plan_fp8(g, lower_graph(g));
  EXPECT_TRUE(plan.blocks.empty());
  EXPECT_EQ(plan.slots, 0);
}

}  // namespace
}  // namespace resr::passes
