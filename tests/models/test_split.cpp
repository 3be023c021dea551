// The head/tail split of x4plus: the tail on small sub-tiles with its halo gives the whole-graph output.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/compiled_model.h"
#include "image/codec.h"
#include "image/convert.h"
#include "ir/split.h"
#include "support/compare.h"
#include "support/paths.h"

namespace resr {
namespace {

TEST(GraphSplit, X4plusSplitsBeforeUpsamplingAndX4fastDoesNot) {
  auto plus = engine::load_model({test::model_dir(), "x4plus"});
  auto fast = engine::load_model({test::model_dir(), "x4fast"});
  ASSERT_TRUE(plus.ok() && fast.ok());
  const int cut = ir::find_resolution_cut(*plus->graph);
  ASSERT_GE(cut, 0);
  EXPECT_EQ(plus->graph->values[cut].channels, 64);
  auto parts = ir::split_graph(*plus->graph, cut);
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  EXPECT_EQ(parts->tail.nodes.size(), 7u);  // Input, 2 x (upsample + conv), conv_hr, conv_last
  EXPECT_NEAR(ir::receptive_radius(parts->tail), 1.25, 1e-9);
  EXPECT_LT(ir::find_resolution_cut(*fast->graph), 0);  // its output adds the upsampled input
  EXPECT_FALSE(ir::split_graph(*fast->graph, fast->graph->nodes[2].output).ok());  // the input is read later
}

TEST(GraphSplit, SplitModelOnSubTilesEqualsWholeGraph) {
  auto model = engine::load_model({test::model_dir(), "x4plus"});
  ASSERT_TRUE(model.ok());
  auto image = read_image_file(test::data_path("x4plus_23x19.in.png"));
  ASSERT_TRUE(image.ok());
  const Tensor in = image_rgb_to_tensor(*image);
  auto whole = engine::CompiledModel::compile(*model, "cpu", /*split=*/false);
  auto split = engine::CompiledModel::compile(*model, "cpu", /*split=*/true, /*sub_tile=*/5);
  ASSERT_TRUE(whole.ok() && split.ok());
  ASSERT_TRUE(split->is_split());
  auto a = whole->run_tile(in);
  auto b = split->run_tile(in);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->shape(), b->shape());
  EXPECT_LE(test::max_abs_error(a->data(), b->data(), std::size_t(a->numel())), 1e-5);
  // The split needs far less working memory per pixel.
  auto wb = whole->working_bytes(256, 256);
  auto sb = split->working_bytes(256, 256);
  ASSERT_TRUE(wb.ok() && sb.ok());
  EXPECT_LT(*sb * 2, *wb);
  std::printf("working bytes at 256x256: whole %.0f MiB, split %.0f MiB\n", *wb / 1048576.0, *sb / 1048576.0);
}

}  // namespace
}  // namespace resr
