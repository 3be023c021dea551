// choose_tiles: deterministic, spread over the images and over each image, clipped to small images.
#include <gtest/gtest.h>

#include <set>

#include "quant/tile_sampler.h"

namespace resr::quant {
namespace {

TEST(TileSampler, DeterministicAndSeeded) {
  const std::vector<std::pair<int, int>> sizes = {{510, 408}, {510, 321}, {640, 480}};
  const auto a = choose_tiles(sizes, 50, 128, 1), b = choose_tiles(sizes, 50, 128, 1);
  const auto c = choose_tiles(sizes, 50, 128, 2);
  ASSERT_EQ(a.size(), 50u);
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].image, b[i].image);
    EXPECT_EQ(a[i].rect, b[i].rect);
    differs |= !(a[i].rect == c[i].rect);
  }
  EXPECT_TRUE(differs);
  // Pinned: the generator is our own, so the first tile is the same on every platform.
  EXPECT_EQ(a[0].image, 0);
  EXPECT_EQ(a[0].rect, (tiling::Rect{103, 95, 128, 128}));
}

TEST(TileSampler, SpreadOverImagesAndInBounds) {
  const std::vector<std::pair<int, int>> sizes = {{510, 408}, {510, 321}, {100, 60}};
  const auto tiles = choose_tiles(sizes, 200, 128, 0);
  ASSERT_EQ(tiles.size(), 200u);
  int per[3] = {0, 0, 0};
  for (const TileChoice& t : tiles) {
    ++per[t.image];
    const auto [w, h] = sizes[t.image];
    EXPECT_GE(t.rect.x, 0);
    EXPECT_GE(t.rect.y, 0);
    EXPECT_LE(t.rect.x + t.rect.w, w);
    EXPECT_LE(t.rect.y + t.rect.h, h);
    EXPECT_EQ(t.rect.w, std::min(128, w));
    EXPECT_EQ(t.rect.h, std::min(128, h));
  }
  for (int n : per) EXPECT_TRUE(n == 66 || n == 67) << n;
  // Tiles of the first image cover its corner range: some near each edge.
  int left = 0, right = 0, top = 0, bottom = 0;
  for (const TileChoice& t : tiles) {
    if (t.image != 0) continue;
    left += t.rect.x < 60;
    right += t.rect.x > 382 - 60;
    top += t.rect.y < 50;
    bottom += t.rect.y > 280 - 50;
  }
  EXPECT_GT(left, 3);
  EXPECT_GT(right, 3);
  EXPECT_GT(top, 3);
  EXPECT_GT(bottom, 3);
}

TEST(TileSampler, FewerTilesThanImagesAndTinyImages) {
  std::vector<std::pair<int, int>> sizes(10, {20, 30});
  const auto tiles = choose_tiles(sizes, 3, 16, 4);
  ASSERT_EQ(tiles.size(), 3u);
  std::set<int> images;
  for (const TileChoice& t : tiles) images.insert(t.image);
  EXPECT_EQ(images.size(), 3u);
  const auto one = choose_tiles({{5, 7}}, 4, 128, 0);  // the whole image each time
  ASSERT_EQ(one.size(), 4u);
  for (const TileChoice& t : one) EXPECT_EQ(t.rect, (tiling::Rect{0, 0, 5, 7}));
  EXPECT_TRUE(choose_tiles({}, 5, 8, 0).empty());
}

}  // namespace
}  // namespace resr::quant
