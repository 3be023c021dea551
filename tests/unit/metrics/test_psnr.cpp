// psnr() and worst_block_psnr(): exact values for known errors, Y vs RGB, crop border, errors.
#include "metrics/psnr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "metric_images.h"

namespace resr::metrics {
namespace {

TEST(Psnr, IdenticalImagesAreInfinite) {
  const Image a = testing::textured_image(20, 10, 3);
  auto p = psnr(a, a);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(std::isinf(*p) && *p > 0);
}

TEST(Psnr, KnownMse) {
  // Every sample off by 10 of 255: MSE = (10/255)^2, PSNR = 20 log10(255 / 10).
  auto p = psnr(testing::flat_image(8, 8, 3, 100), testing::flat_image(8, 8, 3, 110));
  ASSERT_TRUE(p.ok());
  EXPECT_NEAR(*p, 20 * std::log10(25.5), 1e-9);
  // Half the samples off by 10: MSE halves, +10 log10(2) dB.
  Image b = testing::flat_image(8, 8, 1, 100);
  for (int i = 0; i < 32; ++i) b.bytes[i] = 110;
  p = psnr(testing::flat_image(8, 8, 1, 100), b);
  ASSERT_TRUE(p.ok());
  EXPECT_NEAR(*p, 20 * std::log10(25.5) + 10 * std::log10(2.0), 1e-9);
}

TEST(Psnr, SixteenBitUsesItsFullRange) {
  auto p = psnr(testing::flat_image(4, 4, 1, 1000, 16), testing::flat_image(4, 4, 1, 1010, 16));
  ASSERT_TRUE(p.ok());
  EXPECT_NEAR(*p, 20 * std::log10(6553.5), 1e-9);
}

TEST(Psnr, LumaOfGrayRgbScalesTheErrorBy219Over255) {
  PsnrOptions y;
  y.y_channel = true;
  const Image a = testing::flat_image(8, 8, 3, 100), b = testing::flat_image(8, 8, 3, 110);
  auto rgb = psnr(a, b), luma = psnr(a, b, y);
  ASSERT_TRUE(rgb.ok() && luma.ok());
  EXPECT_NEAR(*luma - *rgb, -20 * std::log10(219.0 / 255.0), 1e-9);
  // Only the red channel differs: Y differs by 65.481 / 255 of it.
  Image c = a;
  for (int p = 0; p < 64; ++p) c.bytes[3 * p] = 110;
  luma = psnr(a, c, y);
  ASSERT_TRUE(luma.ok());
  EXPECT_NEAR(*luma, 20 * std::log10(255.0 / (10 * 65.481 / 255)), 1e-9);
}

TEST(Psnr, CropBorderIgnoresTheEdges) {
  const Image a = testing::textured_image(16, 12, 3);
  Image b = a;
  b.bytes[0] ^= 0x40;                   // corner pixel
  b.bytes[(3 * 16 + 15) * 3 + 1] ^= 1;  // right edge, row 3
  PsnrOptions crop;
  crop.crop_border = 1;
  auto whole = psnr(a, b), cropped = psnr(a, b, crop);
  ASSERT_TRUE(whole.ok() && cropped.ok());
  EXPECT_TRUE(std::isfinite(*whole));
  EXPECT_TRUE(std::isinf(*cropped));
  crop.crop_border = 6;  // nothing left of 12 rows
  EXPECT_FALSE(psnr(a, b, crop).ok());
}

TEST(Psnr, AlphaIsIgnored) {
  Image a = testing::flat_image(4, 4, 4, 50), b = a;
  b.bytes[3] = 200;
  auto p = psnr(a, b);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(std::isinf(*p));
}

// Colour is compared whatever the layouts: RGB against RGBA (alpha left out), gray against RGB as R = G = B (as
// BasicSR's cv2.imread sees both); each was "channel counts differ".
TEST(Psnr, LayoutsPairByTheirColour) {
  const Image rgb = testing::textured_image(9, 7, 3);
  Image rgba = testing::flat_image(9, 7, 4, 17);
  for (std::size_t p = 0; p < 63; ++p) std::memcpy(&rgba.bytes[4 * p], &rgb.bytes[3 * p], 3);
  for (const PsnrOptions& o : {PsnrOptions{}, PsnrOptions{.y_channel = true}}) {
    EXPECT_TRUE(std::isinf(*psnr(rgb, rgba, o)));
    EXPECT_TRUE(std::isinf(*psnr(rgba, rgb, o)));
    EXPECT_TRUE(std::isinf(worst_block_psnr(rgba, rgb, 4, o)->worst_db));
  }
  const Image gray = testing::textured_image(9, 7, 1);
  Image gray_rgb = testing::flat_image(9, 7, 3, 0), gray_alpha = testing::flat_image(9, 7, 2, 200);
  for (std::size_t p = 0; p < 63; ++p) {
    std::memset(&gray_rgb.bytes[3 * p], gray.bytes[p], 3);
    gray_alpha.bytes[2 * p] = gray.bytes[p];
  }
  EXPECT_TRUE(std::isinf(*psnr(gray, gray_rgb)));
  EXPECT_TRUE(std::isinf(*psnr(gray_rgb, gray_alpha, {.y_channel = true})));
  EXPECT_TRUE(std::isinf(*psnr(gray_alpha, gray)));
  // And a difference counts as it would in RGB: one gray level off everywhere is one level off in each colour.
  Image darker = gray;
  for (std::uint8_t& v : darker.bytes) v = std::uint8_t(v > 0 ? v - 1 : 1);
  EXPECT_NEAR(*psnr(darker, gray_rgb), *psnr(darker, gray), 1e-12);
  // And on luma too: a gray image's Y is that of R = G = B in every pairing (a gray pair used the raw sample).
  const PsnrOptions y{.y_channel = true};
  EXPECT_NEAR(*psnr(darker, gray_rgb, y), *psnr(darker, gray, y), 1e-12);
  EXPECT_NEAR(*psnr(darker, gray, y) - *psnr(darker, gray), -20 * std::log10(219.0 / 255.0), 1e-9);
}

TEST(Psnr, MismatchedImagesAreErrors) {
  auto p = psnr(testing::flat_image(8, 8, 3, 0), testing::flat_image(8, 9, 3, 0));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "sizes differ: 8x8 vs 8x9");
  EXPECT_FALSE(worst_block_psnr(testing::flat_image(8, 8, 3, 0), testing::flat_image(9, 8, 3, 0), 4).ok());
}

TEST(WorstBlockPsnr, FindsTheDamagedBlock) {
  const Image a = testing::textured_image(40, 30, 3);
  Image b = a;
  for (int c = 0; c < 3; ++c) b.bytes[(std::size_t(25) * 40 + 33) * 3 + c] ^= 0x10;  // in block (32, 16)
  b.bytes[1] ^= 1;                                                                   // small error in (0, 0)
  auto w = worst_block_psnr(a, b, 16);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->blocks, 3 * 2);
  EXPECT_EQ(w->worst_x, 32);
  EXPECT_EQ(w->worst_y, 16);
  EXPECT_FALSE(worst_block_psnr(a, b, 0).ok());
}

}  // namespace
}  // namespace resr::metrics
