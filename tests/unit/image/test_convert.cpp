// Image <-> Tensor: scaling, gray replication, alpha planes, rounding and clamping on the way back.
#include "image/convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_images.h"

namespace resr {
namespace {

using testing::make_image;

TEST(ImageToTensor, RgbScalesTo01) {
  Image img = make_image(5, 3, 3, 8);
  Tensor t = image_rgb_to_tensor(img);
  ASSERT_EQ(t.shape(), (Shape{3, 3, 5}));
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 3; ++y) {
      for (int x = 0; x < 5; ++x) {
        EXPECT_FLOAT_EQ(t.at(c, y, x), img.bytes[(std::size_t(y) * 5 + x) * 3 + c] / 255.0f);
      }
    }
  }
}

TEST(ImageToTensor, SixteenBitScalesBy65535) {
  Image img = make_image(4, 2, 4, 16);
  Tensor t = image_rgb_to_tensor(img);
  Tensor a = image_alpha_to_tensor(img);
  ASSERT_EQ(a.shape(), (Shape{1, 2, 4}));
  EXPECT_FLOAT_EQ(t.at(2, 1, 3), img.sample16((1 * 4 + 3) * 4 + 2) / 65535.0f);
  EXPECT_FLOAT_EQ(a.at(0, 1, 3), img.sample16((1 * 4 + 3) * 4 + 3) / 65535.0f);
}

TEST(ImageToTensor, GrayIsReplicatedAndAlphaSeparate) {
  Image img = make_image(3, 2, 2, 8);
  Tensor t = image_rgb_to_tensor(img);
  Tensor a = image_alpha_to_tensor(img);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      std::size_t p = std::size_t(y) * 3 + x;
      for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(t.at(c, y, x), img.bytes[p * 2] / 255.0f);
      EXPECT_FLOAT_EQ(a.at(0, y, x), img.bytes[p * 2 + 1] / 255.0f);
    }
  }
}

class ConvertRoundTrip : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(ConvertRoundTrip, IsExact) {
  auto [channels, bits] = GetParam();
  Image img = make_image(7, 5, channels, bits);
  Tensor rgb = image_rgb_to_tensor(img);
  Tensor alpha;
  if (img.has_alpha()) alpha = image_alpha_to_tensor(img);
  Image back = tensor_to_image(rgb, img.has_alpha() ? &alpha : nullptr, channels, bits);
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.channels, channels);
  EXPECT_EQ(back.bits, bits);
  EXPECT_EQ(back.bytes, img.bytes);
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, ConvertRoundTrip,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4), ::testing::Values(8, 16)));

// A 3 x 1 x N tensor whose three planes all hold `values`.
Tensor gray_tensor(const std::vector<float>& values) {
  Tensor t(3, 1, int(values.size()));
  for (int c = 0; c < 3; ++c) {
    for (std::size_t i = 0; i < values.size(); ++i) t.at(c, 0, int(i)) = values[i];
  }
  return t;
}

TEST(TensorToImage, RoundsToNearestAndClamps) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor t = gray_tensor(
      {0.3f / 255, 0.7f / 255, 100.4f / 255, 100.6f / 255, -0.5f, 1.5f, nan, std::numeric_limits<float>::infinity()});
  Image img = tensor_to_image(t, nullptr, 3, 8);
  std::vector<std::uint8_t> expected = {0, 1, 100, 101, 0, 255, 0, 255};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(img.bytes[i * 3 + c], expected[i]) << "value " << i;
  }
  Image wide = tensor_to_image(gray_tensor({0.5f, 1.0f, 2.0f, -1.0f, 0.25f}), nullptr, 1, 16);
  EXPECT_EQ(wide.sample16(0), 32768);  // 32767.5 rounds up
  EXPECT_EQ(wide.sample16(1), 65535);
  EXPECT_EQ(wide.sample16(2), 65535);
  EXPECT_EQ(wide.sample16(3), 0);
  EXPECT_EQ(wide.sample16(4), 16384);  // 16383.75
}

// Gray as Real-ESRGAN makes it: each plane clamped, then BT.601 luma (OpenCV's RGB2GRAY), not the planes' mean.
TEST(TensorToImage, GrayIsLumaOfClampedPlanes) {
  Tensor t(3, 1, 2);
  t.at(0, 0, 0) = 0.2f;
  t.at(1, 0, 0) = 0.4f;
  t.at(2, 0, 0) = 0.6f;
  t.at(0, 0, 1) = 1.4f;   // clamped to 1 before the weights
  t.at(1, 0, 1) = -0.5f;  // to 0
  t.at(2, 0, 1) = 0.0f;
  Image img = tensor_to_image(t, nullptr, 1, 8);
  ASSERT_EQ(img.bytes.size(), 2u);
  EXPECT_EQ(img.bytes[0], 93);  // (0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6) * 255 = 92.6; the mean gave 102
  EXPECT_EQ(img.bytes[1], 76);  // 0.299 * 255 = 76.2; the mean of the unclamped planes gave 77
}

TEST(TensorToImage, AlphaPlaneOrOpaque) {
  Tensor t = gray_tensor({0.0f, 1.0f});
  Tensor a(1, 1, 2);
  a.at(0, 0, 0) = 0.5f;
  a.at(0, 0, 1) = -3.0f;
  Image rgba = tensor_to_image(t, &a, 4, 8);
  EXPECT_EQ(rgba.bytes, (std::vector<std::uint8_t>{0, 0, 0, 128, 255, 255, 255, 0}));
  Image ga = tensor_to_image(t, &a, 2, 8);
  EXPECT_EQ(ga.bytes, (std::vector<std::uint8_t>{0, 128, 255, 0}));
  Image opaque = tensor_to_image(t, nullptr, 2, 16);
  EXPECT_EQ(opaque.sample16(1), 65535);
  EXPECT_EQ(opaque.sample16(3), 65535);
  Image no_alpha = tensor_to_image(t, &a, 3, 8);  // alpha ignored when the output has none
  EXPECT_EQ(no_alpha.bytes.size(), 6u);
}

}  // namespace
}  // namespace resr
