// The tile planner: cores partition the image exactly, inputs are cores grown by the context and clamped,
// crops land where the core's output is, for every size, tile, pad and scale.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "tiling/tile_plan.h"

namespace resr::tiling {
namespace {

void expect_valid_plan(int w, int h, int tile, int pad, bool uniform) {
  SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + " tile " + std::to_string(tile) + " pad " +
               std::to_string(pad) + (uniform ? " uniform" : ""));
  auto plan = plan_tiles(w, h, tile, tile, pad, 1, uniform);
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
    // Input: the core grown by pad on every side, clamped to the image; uniform: at least that, inside the image,
    // and of one size for all tiles (edge tiles take more context inward).
    if (!uniform) {
      EXPECT_EQ(t.input.x, std::max(0, t.core.x - pad));
      EXPECT_EQ(t.input.y, std::max(0, t.core.y - pad));
      EXPECT_EQ(t.input.x + t.input.w, std::min(w, t.core.x + t.core.w + pad));
      EXPECT_EQ(t.input.y + t.input.h, std::min(h, t.core.y + t.core.h + pad));
    }
    EXPECT_LE(t.input.x, std::max(0, t.core.x - pad));
    EXPECT_LE(t.input.y, std::max(0, t.core.y - pad));
    EXPECT_GE(t.input.x + t.input.w, std::min(w, t.core.x + t.core.w + pad));
    EXPECT_GE(t.input.y + t.input.h, std::min(h, t.core.y + t.core.h + pad));
    EXPECT_GE(t.input.x, 0);
    EXPECT_GE(t.input.y, 0);
    EXPECT_LE(t.input.x + t.input.w, w);
    EXPECT_LE(t.input.y + t.input.h, h);
    if (uniform) {
      EXPECT_EQ(t.input.w, plan->tiles[0].input.w);
      EXPECT_EQ(t.input.h, plan->tiles[0].input.h);
    }
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
          for (bool uniform : {false, true}) expect_valid_plan(w, h, tile, pad, uniform);
        }
}

// Aligned inputs start at a multiple of the alignment and end at one or at the edge, still holding core + pad;
// along an axis that is a multiple of the alignment, all of one size.
TEST(TilePlan, AlignedInputsStartAndEndOnTheMultiple) {
  for (int align : {2, 4})
    for (int w : {9, 37, 150, 152})
      for (int tile : {5, 16, 50})
        for (int pad : {0, 3, 37})
          for (bool uniform : {false, true}) {
            auto plan = plan_tiles(w, w + 3, tile, tile, pad, align, uniform);
            ASSERT_TRUE(plan.ok()) << plan.status().message();
            for (const Tile& t : plan->tiles) {
              for (auto [start, size, core_start, core_size, extent] :
                   {std::tuple{t.input.x, t.input.w, t.core.x, t.core.w, w},
                    std::tuple{t.input.y, t.input.h, t.core.y, t.core.h, w + 3}}) {
                EXPECT_EQ(start % align, 0);
                EXPECT_TRUE((start + size) % align == 0 || start + size == extent);
                EXPECT_LE(start, std::max(0, core_start - pad));
                EXPECT_GE(start + size, std::min(extent, core_start + core_size + pad));
                EXPECT_GE(start, 0);
                EXPECT_LE(start + size, extent);
                if (!uniform) {
                  EXPECT_LT(std::max(0, core_start - pad) - start, align);
                } else if (extent % align == 0) {
                  EXPECT_EQ(size, extent == w ? plan->tiles[0].input.w : plan->tiles[0].input.h);
                }
              }
            }
          }
  EXPECT_FALSE(plan_tiles(8, 8, 4, 4, 1, 0).ok());
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
  EXPECT_EQ(plan->tiles[0].input, (Rect{0, 0, 120, 120}));
  // Uniform inputs: the corner tiles' are as large as the middle one's, with more context inward.
  auto uniform = plan_tiles(300, 300, 100, 100, 20, 1, true);
  ASSERT_TRUE(uniform.ok());
  EXPECT_EQ(uniform->tiles[4].input, (Rect{80, 80, 140, 140}));
  EXPECT_EQ(uniform->tiles[0].input, (Rect{0, 0, 140, 140}));
  EXPECT_EQ(uniform->tiles[8].input, (Rect{160, 160, 140, 140}));
  EXPECT_EQ(uniform->tiles[8].crop_in_output(4), (Rect{160, 160, 400, 400}));
}

TEST(TilePlan, RejectsBadArguments) {
  EXPECT_FALSE(plan_tiles(0, 5, 8, 0).ok());
  EXPECT_FALSE(plan_tiles(5, 0, 8, 0).ok());
  EXPECT_FALSE(plan_tiles(5, 5, 0, 0).ok());
  EXPECT_FALSE(plan_tiles(5, 5, 8, -1).ok());
}

}  // namespace
}  // namespace resr::tiling

namespace resr::tiling {
namespace {

TEST(TileGrid, WholeImageWhenItFits) {
  auto g = choose_tile_grid(510, 408, 48, [](int, int) { return true; });
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->tile_w, 510);
  EXPECT_EQ(g->tile_h, 408);
  EXPECT_EQ(g->model_area, 510.0 * 408.0);
}

double model_area(const TilePlan& plan) {
  double area = 0;
  for (const Tile& t : plan.tiles) area += double(t.input.w) * t.input.h;
  return area;
}

TEST(TileGrid, NoFittingGridFeedsTheModelFewerPixels) {
  const auto fits = [](int w, int h) { return w * h <= 9000; };
  for (auto [w, h, pad] : {std::tuple{300, 90, 10}, std::tuple{97, 211, 7}, std::tuple{1000, 40, 20}}) {
    auto g = choose_tile_grid(w, h, pad, fits);
    ASSERT_TRUE(g.ok());
    auto chosen = plan_tiles(w, h, g->tile_w, g->tile_h, pad);
    ASSERT_TRUE(chosen.ok());
    for (const Tile& t : chosen->tiles) EXPECT_TRUE(fits(t.input.w, t.input.h));
    const double best = model_area(*chosen);
    // For each core width, the tallest fitting core height feeds the fewest pixels; none may beat the choice.
    for (int tw = 1; tw <= w; ++tw) {
      for (int th = h; th >= 1; --th) {
        auto plan = plan_tiles(w, h, tw, th, pad);
        bool ok = true;
        for (const Tile& t : plan->tiles) ok = ok && fits(t.input.w, t.input.h);
        if (!ok) continue;
        EXPECT_GE(model_area(*plan), best) << w << "x" << h << " tile " << tw << "x" << th;
        break;
      }
    }
  }
}

TEST(TileGrid, ChosenTilesFitAndBeatSquareTiles) {
  const auto fits = [](int w, int h) { return 1000 + 3 * w * h <= 3 * 300 * 300 + 1000; };
  auto g = choose_tile_grid(510, 408, 48, fits);
  ASSERT_TRUE(g.ok());
  auto plan = plan_tiles(510, 408, g->tile_w, g->tile_h, 48);
  ASSERT_TRUE(plan.ok());
  double area = 0;
  for (const Tile& t : plan->tiles) {
    EXPECT_TRUE(fits(t.input.w, t.input.h));
    area += double(t.input.w) * t.input.h;
  }
  auto square = plan_tiles(510, 408, 300 - 96, 48);  // the square tile whose input is 300 x 300
  ASSERT_TRUE(square.ok());
  double square_area = 0;
  for (const Tile& t : square->tiles) square_area += double(t.input.w) * t.input.h;
  EXPECT_LE(area, square_area);
}

TEST(TileGrid, ErrorWhenNothingFits) {
  EXPECT_FALSE(choose_tile_grid(100, 100, 10, [](int, int) { return false; }).ok());
}

}  // namespace
}  // namespace resr::tiling
