// The tile planner: cores partition the image exactly, inputs are cores grown by the context and clamped,
// crops land where the core's output is, for every size, tile, pad and scale.
#include <gtest/gtest.h>

#include <vector>

#include "tiling/tile_plan.h"

namespace resr::tiling {
namespace {

void expect_valid_plan(int w, int h, int tile, int pad) {
  SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + " tile " + std::to_string(tile) + " pad " +
               std::to_string(pad));
  auto plan = plan_tiles(w, h, tile, pad);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->tiles.size(), std::size_t(plan->columns) * plan->rows);
  std::vector<int> covered(std::size_t(w) * h, 0);
  for (const Tile& t : plan->tiles) {
    EXPECT_GE(t.core.w, 1);
    EXPECT_GE(t.core.h, 1);
    EXPECT_LE(t.core.w, tile);
    EXPECT_LE(t.core.h, tile);
    for (int y = t.core.y; y < t.core.y + t.core.h; ++y)
      for (int x = t.core.x; x < t.core.x + t.core.w; ++x) ++covered[std::size_t(y) * w + x];
    // Input = core grown by pad on every side, clamped to the image.
    EXPECT_EQ(t.input.x, std::max(0, t.core.x - pad));
    EXPECT_EQ(t.input.y, std::max(0, t.core.y - pad));
    EXPECT_EQ(t.input.x + t.input.w, std::min(w, t.core.x + t.core.w + pad));
    EXPECT_EQ(t.input.y + t.input.h, std::min(h, t.core.y + t.core.h + pad));
    for (int scale : {1, 2, 3, 4, 8}) {
      const Rect crop = t.crop_in_output(scale);
      EXPECT_GE(crop.x, 0);
      EXPECT_GE(crop.y, 0);
      EXPECT_LE(crop.x + crop.w, t.input.w * scale);
      EXPECT_LE(crop.y + crop.h, t.input.h * scale);
      EXPECT_EQ(crop.w, t.core.w * scale);
    }
  }
  for (int c : covered) ASSERT_EQ(c, 1) << "every pixel belongs to exactly one core";
}

TEST(TilePlan, CoresPartitionTheImageForManySizes) {
  for (int w : {1, 2, 7, 37, 64, 65, 200, 510})
    for (int h : {1, 3, 29, 64, 129, 408})
      for (int tile : {1, 8, 64, 100, 1000})
        for (int pad : {0, 10, 34}) {
          if (std::int64_t(w) * h / (std::int64_t(tile) * tile) > 5000) continue;  // keep the test fast
          expect_valid_plan(w, h, tile, pad);
        }
}

TEST(TilePlan, TileLargerThanImageIsOneTile) {
  auto plan = plan_tiles(37, 29, 512, 16);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->tiles.size(), 1u);
  EXPECT_EQ(plan->tiles[0].core, (Rect{0, 0, 37, 29}));
  EXPECT_EQ(plan->tiles[0].input, (Rect{0, 0, 37, 29}));
}

TEST(TilePlan, OnePixelImage) {
  auto plan = plan_tiles(1, 1, 64, 10);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->tiles.size(), 1u);
  EXPECT_EQ(plan->tiles[0].crop_in_output(4), (Rect{0, 0, 4, 4}));
}

TEST(TilePlan, BalancedCoresHaveNoSlivers) {
  auto plan = plan_tiles(201, 100, 100, 0);  // 3 columns of 67, not 100 + 100 + 1
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->columns, 3);
  for (const Tile& t : plan->tiles) EXPECT_EQ(t.core.w, 67);
}

TEST(TilePlan, InteriorTileCropSkipsTheContext) {
  auto plan = plan_tiles(300, 300, 100, 20);
  ASSERT_TRUE(plan.ok());
  const Tile& middle = plan->tiles[4];
  EXPECT_EQ(middle.core, (Rect{100, 100, 100, 100}));
  EXPECT_EQ(middle.input, (Rect{80, 80, 140, 140}));
  EXPECT_EQ(middle.crop_in_output(4), (Rect{80, 80, 400, 400}));
}

TEST(TilePlan, RejectsBadArguments) {
  EXPECT_FALSE(plan_tiles(0, 5, 8, 0).ok());
  EXPECT_FALSE(plan_tiles(5, 0, 8, 0).ok());
  EXPECT_FALSE(plan_tiles(5, 5, 0, 0).ok());
  EXPECT_FALSE(plan_tiles(5, 5, 8, -1).ok());
}

}  // namespace
}  // namespace resr::tiling
