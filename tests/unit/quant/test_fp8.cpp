// FP8 E4M3 (core/fp8.h): every code decodes to its value and encodes back; rounding is to the nearest E4M3 value,
// ties to the even code, saturating at 448, checked against a brute-force search over all finite values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/fp8.h"

namespace resr {
namespace {

bool is_nan_code(int c) {
  return (c & 0x7f) == 0x7f;
}

TEST(Fp8E4m3, KnownCodes) {
  EXPECT_EQ(e4m3_to_float(0x00), 0.0f);
  EXPECT_EQ(e4m3_to_float(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(e4m3_to_float(0x07), 7.0f / 512.0f);         // largest subnormal
  EXPECT_EQ(e4m3_to_float(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(e4m3_to_float(0x3c), 1.5f);
  EXPECT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_float(0xfe), -448.0f);
  EXPECT_TRUE(std::isnan(e4m3_to_float(0x7f)));
  EXPECT_TRUE(std::isnan(e4m3_to_float(0xff)));
  EXPECT_TRUE(std::signbit(e4m3_to_float(0x80)));
}

TEST(Fp8E4m3, EveryCodeRoundTripsAndValuesIncrease) {
  float previous = -1.0f;
  for (int c = 0; c < 256; ++c) {
    if (is_nan_code(c)) continue;
    const float v = e4m3_to_float(std::uint8_t(c));
    EXPECT_EQ(float_to_e4m3(v), c) << "code " << c;
    EXPECT_EQ(round_to_e4m3(v), v) << "code " << c;
    if (c < 0x80) {
      EXPECT_GT(v, previous) << "code " << c;
      previous = v;
    }
  }
}

// The nearest finite E4M3 value by search: ties go to the even code; beyond 448, 448 (saturation).
float nearest_by_search(float x) {
  const float a = std::fabs(x);
  int best = 0;
  for (int c = 1; c < 0x7f; ++c) {
    const double d = std::fabs(double(e4m3_to_float(std::uint8_t(c))) - a);
    const double db = std::fabs(double(e4m3_to_float(std::uint8_t(best))) - a);
    if (d < db || (d == db && (c & 1) == 0)) best = c;
  }
  return std::copysign(e4m3_to_float(std::uint8_t(best)), x);
}

TEST(Fp8E4m3, RoundsToNearestEvenAndSaturates) {
  std::vector<float> xs = {0.0f, -0.0f, 448.0f, 455.9f, 464.0f, 479.0f, 1e9f, -1e30f, 1e-20f, -1e-20f};
  // Every midpoint between neighbours (ties) and points just beside them.
  for (int c = 0; c < 0x7e; ++c) {
    const float lo = e4m3_to_float(std::uint8_t(c)), hi = e4m3_to_float(std::uint8_t(c + 1));
    const float mid = (lo + hi) / 2;
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1000.0f)}) {
      xs.push_back(x);
      xs.push_back(-x);
    }
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> log2(-12.0f, 10.0f);
  for (int i = 0; i < 20000; ++i) xs.push_back((i % 2 ? -1.0f : 1.0f) * std::exp2(log2(rng)));
  for (float x : xs) {
    const float expect = nearest_by_search(x);
    ASSERT_EQ(round_to_e4m3(x), expect) << "x = " << x;
    ASSERT_EQ(std::signbit(round_to_e4m3(x)), std::signbit(x)) << "x = " << x;
    ASSERT_EQ(e4m3_to_float(float_to_e4m3(x)), expect) << "x = " << x;
  }
  EXPECT_EQ(round_to_e4m3(std::numeric_limits<float>::infinity()), 448.0f);
  EXPECT_TRUE(std::isnan(round_to_e4m3(std::nanf(""))));
  EXPECT_EQ(float_to_e4m3(std::nanf("")), 0x7f);
}

}  // namespace
}  // namespace resr
