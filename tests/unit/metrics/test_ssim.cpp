// ssim(): BasicSR's definition on flat images (closed form), identity, symmetry, Y, crop and errors.
#include "metrics/ssim.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "metric_images.h"

namespace resr::metrics {
namespace {

constexpr double kC1 = (0.01 * 255) * (0.01 * 255);

// For flat images the variances vanish, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1).
double flat_ssim(double a, double b) {
  return (2 * a * b + kC1) / (a * a + b * b + kC1);
}

TEST(Ssim, IdenticalImagesGiveOne) {
  const Image a = testing::textured_image(40, 30, 3);
  auto s = ssim(a, a);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, 1.0);
}

TEST(Ssim, FlatImagesMatchTheClosedForm) {
  auto s = ssim(testing::flat_image(20, 16, 3, 100), testing::flat_image(20, 16, 3, 110));
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(*s, flat_ssim(100, 110), 1e-12);
  // 16-bit samples are compared on the 0..255 scale.
  s = ssim(testing::flat_image(20, 16, 1, 100 * 257, 16), testing::flat_image(20, 16, 1, 110 * 257, 16));
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(*s, flat_ssim(100, 110), 1e-12);
}

TEST(Ssim, LumaOfGrayRgb) {
  SsimOptions y;
  y.y_channel = true;
  auto s = ssim(testing::flat_image(20, 16, 3, 100), testing::flat_image(20, 16, 3, 110), y);
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(*s, flat_ssim(16 + 100 * 219.0 / 255, 16 + 110 * 219.0 / 255), 1e-12);
}

TEST(Ssim, ChannelsAreAveraged) {
  Image a = testing::flat_image(12, 12, 3, 100), b = a;
  for (int p = 0; p < 144; ++p) b.bytes[3 * p + 2] = 150;  // only blue differs
  auto s = ssim(a, b);
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(*s, (2 + flat_ssim(100, 150)) / 3, 1e-12);
}

TEST(Ssim, SymmetricAndBelowOneForNoise) {
  const Image a = testing::textured_image(40, 30, 3, 1), b = testing::textured_image(40, 30, 3, 2);
  auto ab = ssim(a, b), ba = ssim(b, a);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_NEAR(*ab, *ba, 1e-12);
  EXPECT_LT(*ab, 0.99);
  EXPECT_GT(*ab, 0.0);
}

TEST(Ssim, CropBorderIgnoresTheEdges) {
  const Image a = testing::textured_image(30, 30, 3);
  Image b = a;
  b.bytes[0] ^= 0x40;
  SsimOptions crop;
  crop.crop_border = 2;
  auto whole = ssim(a, b), cropped = ssim(a, b, crop);
  ASSERT_TRUE(whole.ok() && cropped.ok());
  EXPECT_LT(*whole, 1.0);
  EXPECT_EQ(*cropped, 1.0);
}

TEST(Ssim, Errors) {
  EXPECT_FALSE(ssim(testing::flat_image(20, 20, 3, 0), testing::flat_image(20, 21, 3, 0)).ok());
  // Layouts pair by their colour (colour_pair.h): RGB with RGBA, gray with RGB as R = G = B.
  EXPECT_EQ(*ssim(testing::flat_image(20, 20, 3, 9), testing::flat_image(20, 20, 4, 9)), 1.0);
  const Image gray = testing::textured_image(20, 20, 1);
  Image gray_rgb = testing::flat_image(20, 20, 3, 0);
  for (std::size_t p = 0; p < 400; ++p) std::memset(&gray_rgb.bytes[3 * p], gray.bytes[p], 3);
  EXPECT_EQ(*ssim(gray, gray_rgb), 1.0);
  EXPECT_EQ(*ssim(gray_rgb, gray, {.y_channel = true}), 1.0);
  const Image noisy = testing::textured_image(20, 20, 1, 7);
  EXPECT_NEAR(*ssim(noisy, gray_rgb), *ssim(noisy, gray), 1e-12);
  EXPECT_NEAR(*ssim(noisy, gray_rgb, {.y_channel = true}), *ssim(noisy, gray, {.y_channel = true}), 1e-12);
  EXPECT_FALSE(ssim(testing::flat_image(10, 20, 3, 0), testing::flat_image(10, 20, 3, 0)).ok());  // < 11 wide
  SsimOptions crop;
  crop.crop_border = 5;
  EXPECT_FALSE(ssim(testing::flat_image(20, 20, 3, 0), testing::flat_image(20, 20, 3, 0), crop).ok());
}

}  // namespace
}  // namespace resr::metrics
