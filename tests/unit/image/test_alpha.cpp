// bleed_transparent_colors: hidden colours filled from visible neighbours, nothing visible touched.
#include "image/alpha.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include "test_images.h"

namespace resr {
namespace {

using testing::blank;

std::uint32_t sample(const Image& img, std::size_t i) {
  return img.bits == 8 ? img.bytes[i] : img.sample16(i);
}

void set_pixel(Image& img, int x, int y, const std::vector<std::uint32_t>& px) {
  for (std::size_t c = 0; c < px.size(); ++c) {
    const std::size_t i = (std::size_t(y) * img.width + x) * img.channels + c;
    if (img.bits == 8) {
      img.bytes[i] = std::uint8_t(px[c]);
    } else {
      const auto v = std::uint16_t(px[c]);
      std::memcpy(img.bytes.data() + 2 * i, &v, 2);
    }
  }
}

// An opaque red disc of radius r centred at (cx, cy) on transparent black.
Image red_disc(int width, int height, int cx, int cy, int r) {
  Image img = blank(width, height, 4, 8);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) set_pixel(img, x, y, {255, 0, 0, 255});
    }
  }
  return img;
}

TEST(BleedTransparentColors, RedDiscLeavesOnlyRed) {
  // The 100x100 canvas is wider than 32 rings around the disc: the far corners take the mean visible colour.
  for (auto [cx, cy, r] : {std::tuple{50, 50, 5}, {20, 20, 15}, {0, 99, 3}}) {
    Image img = red_disc(100, 100, cx, cy, r);
    const Image before = img;
    bleed_transparent_colors(img);
    for (std::size_t p = 0; p < 100 * 100; ++p) {
      ASSERT_EQ(img.bytes[p * 4 + 0], 255) << p;
      ASSERT_EQ(img.bytes[p * 4 + 1], 0) << p;
      ASSERT_EQ(img.bytes[p * 4 + 2], 0) << p;
      ASSERT_EQ(img.bytes[p * 4 + 3], before.bytes[p * 4 + 3]) << p;  // alpha never changes
    }
  }
}

TEST(BleedTransparentColors, AveragesTheNearestNeighbours) {
  Image img = blank(3, 1, 4, 8);
  set_pixel(img, 0, 0, {255, 0, 0, 255});
  set_pixel(img, 2, 0, {0, 0, 255, 1});  // barely visible still counts as visible
  bleed_transparent_colors(img);
  EXPECT_EQ(img.bytes[4], 128);  // (255 + 0) / 2 rounded
  EXPECT_EQ(img.bytes[5], 0);
  EXPECT_EQ(img.bytes[6], 128);
  EXPECT_EQ(img.bytes[7], 0);

  // Rings: the pixel next to the visible one is filled from it alone, the ones beyond from the previous ring.
  Image row = blank(4, 1, 2, 8);
  set_pixel(row, 0, 0, {200, 255});
  set_pixel(row, 1, 0, {77, 0});
  set_pixel(row, 2, 0, {99, 0});
  bleed_transparent_colors(row);
  EXPECT_EQ(row.bytes, (std::vector<std::uint8_t>{200, 255, 200, 0, 200, 0, 200, 0}));
}

TEST(BleedTransparentColors, VisiblePixelsUntouched) {
  Image img = testing::make_image(37, 23, 4, 8);  // alpha pattern includes zeros and partial values
  const Image before = img;
  bleed_transparent_colors(img);
  std::size_t hidden = 0;
  for (std::size_t p = 0; p < 37 * 23; ++p) {
    if (before.bytes[p * 4 + 3] == 0) {
      ++hidden;
      EXPECT_EQ(img.bytes[p * 4 + 3], 0);
      continue;
    }
    for (int c = 0; c < 4; ++c) ASSERT_EQ(img.bytes[p * 4 + c], before.bytes[p * 4 + c]) << p;
  }
  EXPECT_GT(hidden, 0u);
  EXPECT_NE(img.bytes, before.bytes);
}

TEST(BleedTransparentColors, NoVisiblePixelOrNoAlphaIsLeftAlone) {
  Image img = testing::make_image(10, 10, 4, 8);
  for (std::size_t p = 0; p < 100; ++p) img.bytes[p * 4 + 3] = 0;
  const Image transparent = img;
  bleed_transparent_colors(img);
  EXPECT_EQ(img.bytes, transparent.bytes);

  Image rgb = testing::make_image(10, 10, 3, 8);
  const Image rgb_before = rgb;
  bleed_transparent_colors(rgb);
  EXPECT_EQ(rgb.bytes, rgb_before.bytes);

  Image opaque = testing::make_image(10, 10, 2, 16);
  for (std::size_t p = 0; p < 100; ++p) set_pixel(opaque, int(p % 10), int(p / 10), {1000, 65535});
  const Image opaque_before = opaque;
  bleed_transparent_colors(opaque);
  EXPECT_EQ(opaque.bytes, opaque_before.bytes);

  Image one = blank(1, 1, 4, 8);
  bleed_transparent_colors(one);
  EXPECT_EQ(one.bytes, blank(1, 1, 4, 8).bytes);
}

TEST(BleedTransparentColors, SixteenBit) {
  for (int channels : {2, 4}) {
    Image img = blank(70, 9, channels, 16);
    std::vector<std::uint32_t> px(std::size_t(channels), 40000);
    px[1 % px.size()] = channels == 4 ? 12345 : px[1];
    px.back() = 65535;
    set_pixel(img, 3, 4, px);
    bleed_transparent_colors(img);
    for (std::size_t p = 0; p < 70 * 9; ++p) {
      for (int c = 0; c + 1 < channels; ++c) ASSERT_EQ(sample(img, p * channels + c), px[std::size_t(c)]) << p;
      ASSERT_EQ(sample(img, p * channels + channels - 1), p == 4 * 70 + 3 ? 65535u : 0u);
    }
  }
}

}  // namespace
}  // namespace resr
