// binary16 <-> binary32 (core/half.h): every binary16 value survives the round trip, and rounding to binary16
// is to nearest even, saturates to infinity past the largest value, and keeps NaN a NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/half.h"

namespace resr {
namespace {

TEST(Half, EveryBinary16ValueRoundTrips) {
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const float f = half_to_float(std::uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << h;
    } else {
      EXPECT_EQ(float_to_half(f), h) << h;
    }
  }
}

TEST(Half, RoundsToNearestEvenAndSaturates) {
  // Halfway between 1 and the next binary16 (1 + 2^-10): ties go to the even one, 1.
  EXPECT_EQ(float_to_half(1.0f + 0x1p-11f), float_to_half(1.0f));
  // Halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even): up.
  EXPECT_EQ(float_to_half(1.0f + 0x1p-10f + 0x1p-11f), float_to_half(1.0f + 0x1p-9f));
  EXPECT_EQ(float_to_half(1.0f + 0x1p-11f + 0x1p-20f), float_to_half(1.0f + 0x1p-10f));  // just past halfway
  EXPECT_EQ(half_to_float(float_to_half(65504.0f)), 65504.0f);                           // the largest
  EXPECT_EQ(half_to_float(float_to_half(65519.0f)), 65504.0f);                           // rounds down to it
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(65520.0f))));
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(-1e30f))));
  EXPECT_LT(half_to_float(float_to_half(-1e30f)), 0.0f);
  EXPECT_EQ(half_to_float(float_to_half(0x1p-24f)), 0x1p-24f);  // the smallest subnormal
  EXPECT_EQ(half_to_float(float_to_half(0x1p-26f)), 0.0f);      // below half of it
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace resr
