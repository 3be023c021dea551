// The public quality measures (include/resr/metrics.h): NIQE of the contest photo as BasicSR computes it, PSNR
// and SSIM against a reference (identical, shifted by one level, Y channel and crop), and the one-line errors.
#include "resr/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "image/codec.h"
#include "support/paths.h"

namespace resr {
namespace {

Image photo() {
  auto img = read_image_file(test::data_path("niqe/0002.png"));
  EXPECT_TRUE(img.ok());
  return *img;
}

TEST(PublicMetrics, NiqeMatchesBasicSr) {
  Result<double> q = niqe(photo());
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_NEAR(*q, 4.105866, 1e-4);
}

TEST(PublicMetrics, PsnrAndSsim) {
  const Image a = photo();
  Image b = a;
  for (auto& v : b.bytes) v = v < 255 ? v + 1 : v - 1;  // every sample one level off
  Result<double> same = psnr(a, a);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, std::numeric_limits<double>::infinity());
  Result<double> off = psnr(b, a);
  ASSERT_TRUE(off.ok());
  EXPECT_NEAR(*off, 20 * std::log10(255.0), 1e-9);  // MSE exactly 1 level^2
  Result<double> y = psnr(b, a, {.y_channel = true, .crop_border = 4});
  ASSERT_TRUE(y.ok());
  EXPECT_GT(*y, 45.0);
  Result<double> s1 = ssim(a, a), s2 = ssim(b, a, {.y_channel = true});
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(*s1, 1.0);
  EXPECT_GT(*s2, 0.99);
  EXPECT_LT(*s2, 1.0);
}

TEST(PublicMetrics, ErrorsAreOneLine) {
  const Image a = photo();
  Image small = a;
  small.width = 8;
  small.height = 8;
  small.bytes.resize(std::size_t(8) * 8 * a.channels);
  EXPECT_FALSE(psnr(small, a).ok());
  EXPECT_FALSE(ssim(small, small).ok());
  EXPECT_FALSE(niqe(small).ok());
  EXPECT_EQ(psnr(a, a, {.crop_border = -1}).status().message(), "crop_border must be 0 or more, got -1");
  Image broken = a;
  broken.bytes.pop_back();
  EXPECT_NE(niqe(broken).status().message().find("invalid image"), std::string::npos);
}

}  // namespace
}  // namespace resr
