// niqe(): the reference values of BasicSR's calculate_niqe (shared/niqe/reference_values.tsv), errors, and the
// input conventions (gray, alpha, 16-bit).
#include "metrics/niqe.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "image/codec.h"
#include "metric_images.h"
#include "support/paths.h"

namespace resr::metrics {
namespace {

constexpr double kTolerance = 0.005;  // the reference TSV has 6 decimals; BasicSR's float32 sums differ slightly

double niqe_of_file(const std::string& path) {
  auto img = read_image_file(path);
  EXPECT_TRUE(img.ok()) << path << ": " << img.status().message();
  if (!img) return NAN;
  auto q = niqe(*img);
  EXPECT_TRUE(q.ok()) << path << ": " << q.status().message();
  return q.ok() ? *q : NAN;
}

// Committed copies of shared/images/0001.png and 0002.png (the contest's inputs).
TEST(Niqe, MatchesBasicSrOnContestImages) {
  EXPECT_NEAR(niqe_of_file(test::data_path("niqe/0001.png")), 5.312972, kTolerance);
  EXPECT_NEAR(niqe_of_file(test::data_path("niqe/0002.png")), 4.105866, kTolerance);
}

// The rest of reference_values.tsv: x4 upscaled outputs of 2-6 MB each, too large to commit; read from the
// shared folder beside the checkout when it is there.
TEST(Niqe, MatchesBasicSrOnSharedOutputs) {
  const std::string shared = RESR_SHARED_DIR;
  if (!std::filesystem::exists(shared + "/niqe/reference_values.tsv")) GTEST_SKIP() << shared << " not present";
  const struct {
    const char* path;
    double value;
  } kCases[] = {{"golden/x4plus_0001.full.png", 1.587812},
                {"golden/x4plus_0002.full.png", 5.461712},
                {"golden/x4fast_0001.full.png", 3.886784},
                {"golden/x4fast_0002.full.png", 6.287341},
                {"images/contest_reference_output_0002.png", 5.956346}};
  for (const auto& c : kCases) EXPECT_NEAR(niqe_of_file(shared + "/" + c.path), c.value, kTolerance) << c.path;
}

TEST(Niqe, SmallerThanOneBlockIsAnError) {
  auto q = niqe(testing::textured_image(80, 60, 3));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "image 80x60 is smaller than one 96x96 NIQE block");
  EXPECT_FALSE(niqe(testing::textured_image(95, 400, 3)).ok());
  EXPECT_FALSE(niqe(testing::textured_image(400, 95, 3)).ok());
}

TEST(Niqe, OneBlockGivesANumber) {  // the covariance of one block is zero, as MATLAB's nancov makes it
  auto q = niqe(testing::textured_image(96, 96, 3));
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_TRUE(std::isfinite(*q));
  EXPECT_GT(*q, 0);
}

TEST(Niqe, FlatImageIsAnErrorNotNaN) {
  auto q = niqe(testing::flat_image(200, 200, 3, 128));
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("too little texture"), std::string::npos) << q.status().message();
}

TEST(Niqe, DeterministicAcrossRunsAndThreadCounts) {
  const Image img = testing::textured_image(300, 200, 3, 7);
  const int threads = omp_get_max_threads();
  auto a = niqe(img);
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = niqe(img);
  omp_set_num_threads(1);
  auto c = niqe(img);
  omp_set_num_threads(threads);
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
}

TEST(Niqe, IgnoresTheRemainderBeyondWholeBlocks) {
  const Image big = testing::textured_image(250, 200, 3, 3);
  Image cut = testing::flat_image(192, 192, 3, 0);
  for (int y = 0; y < 192; ++y)
    std::memcpy(&cut.bytes[std::size_t(y) * 192 * 3], &big.bytes[std::size_t(y) * 250 * 3], 192 * 3);
  auto a = niqe(big), b = niqe(cut);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(Niqe, GrayAlphaAnd16BitFollowTheRgbValue) {
  const Image rgb = testing::textured_image(200, 200, 3, 5);
  Image gray = testing::flat_image(200, 200, 1, 0), gray_rgb = testing::flat_image(200, 200, 3, 0);
  Image rgba = testing::flat_image(200, 200, 4, 0), rgb16 = testing::flat_image(200, 200, 3, 0, 16);
  for (std::size_t p = 0; p < 200 * 200; ++p) {
    gray.bytes[p] = rgb.bytes[3 * p + 1];
    for (int c = 0; c < 3; ++c) {
      gray_rgb.bytes[3 * p + c] = rgb.bytes[3 * p + 1];
      rgba.bytes[4 * p + c] = rgb.bytes[3 * p + c];
      const int v = rgb.bytes[3 * p + c];
      const auto v16 = std::uint16_t(v * 257 + (v == 255 ? -100 : 100));  // still rounds to v
      std::memcpy(&rgb16.bytes[2 * (3 * p + c)], &v16, 2);
    }
    rgba.bytes[4 * p + 3] = std::uint8_t(p % 256);
  }
  auto q_rgb = niqe(rgb), q_gray = niqe(gray), q_gray_rgb = niqe(gray_rgb), q_rgba = niqe(rgba), q16 = niqe(rgb16);
  ASSERT_TRUE(q_rgb.ok() && q_gray.ok() && q_gray_rgb.ok() && q_rgba.ok() && q16.ok());
  EXPECT_EQ(*q_gray, *q_gray_rgb);
  EXPECT_EQ(*q_rgba, *q_rgb);
  EXPECT_EQ(*q16, *q_rgb);
}

TEST(Niqe, InconsistentImageIsAnError) {
  Image img = testing::textured_image(200, 200, 3);
  img.bytes.pop_back();
  EXPECT_FALSE(niqe(img).ok());
}

}  // namespace
}  // namespace resr::metrics
