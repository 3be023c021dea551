// shuffle_add_upsampled_padded (the fused tail of SRVGGNetCompact) against the unfused ops it replaces:
// pixel_shuffle_padded and upsample_nearest_padded, then weighted_sum_padded. Every float of the output plane
// (ring and slack included, pre-filled with garbage) must match, for several factors, odd sizes and coefficients.
// round_to_e4m3_padded (the FP8 emulation's vectorised rounding pass) against the scalar round_to_e4m3.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/fp8.h"

#include "backends/cpu/padded_ops.h"
#include "core/aligned_buffer.h"

namespace resr::cpu {
namespace {

struct Planes {
  AlignedBuffer buf;
  PaddedPlanes p;
  Planes(int channels, int h, int w) : buf(PaddedGeometry{h, w}.floats(channels)) {
    p = PaddedPlanes{buf.data(), channels, PaddedGeometry{h, w}};
  }
};

// Random interior, zero ring (the invariant every producer keeps).
Planes random_planes(int channels, int h, int w, std::mt19937& rng) {
  Planes x(channels, h, w);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < h; ++y)
      for (int i = 0; i < w; ++i) x.p.plane(c)[x.p.geo.origin() + std::size_t(y) * x.p.geo.pitch() + i] = u(rng);
  return x;
}

struct Case {
  int r, c, h, w;
  float a, b;
};

class ShuffleAddUpsampled : public ::testing::TestWithParam<Case> {};

TEST_P(ShuffleAddUpsampled, MatchesShuffleUpsampleAndSum) {
  const Case k = GetParam();
  std::mt19937 rng(7);
  const Planes x = random_planes(k.c * k.r * k.r, k.h, k.w, rng);
  const Planes base = random_planes(k.c, k.h, k.w, rng);
  Planes shuffled(k.c, k.h * k.r, k.w * k.r), upsampled(k.c, k.h * k.r, k.w * k.r), want(k.c, k.h * k.r, k.w * k.r);
  pixel_shuffle_padded(x.p, k.r, shuffled.p);
  upsample_nearest_padded(base.p, k.r, upsampled.p);
  const PaddedPlanes terms[] = {shuffled.p, upsampled.p};
  const float coeffs[] = {k.a, k.b};
  weighted_sum_padded(terms, coeffs, want.p);

  Planes got(k.c, k.h * k.r, k.w * k.r);
  for (std::size_t i = 0; i < got.buf.size(); ++i) got.buf.data()[i] = 1e30f;  // garbage, ring included
  shuffle_add_upsampled_padded(x.p, k.a, base.p, k.b, k.r, got.p);
  int diff = 0;
  for (std::size_t i = 0; i < want.buf.size(); ++i) diff += got.buf.data()[i] != want.buf.data()[i];
  EXPECT_EQ(diff, 0) << "floats differing (of " << want.buf.size() << ")";
}

INSTANTIATE_TEST_SUITE_P(Factors, ShuffleAddUpsampled,
                         ::testing::Values(Case{4, 3, 5, 7, 1.0f, 1.0f}, Case{2, 2, 3, 1, 0.5f, -2.0f},
                                           Case{3, 1, 1, 4, 1.0f, 0.25f}, Case{4, 3, 16, 9, -1.0f, 1.0f}));

// Every value class: ties between E4M3 neighbours and points beside them, subnormals, saturation, infinities,
// NaN, both signs; in place and not; the ring and slack stay zero.
TEST(RoundToE4m3Padded, MatchesTheScalarRoundingBitForBit) {
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1e-30f,
                               500.0f,
                               -1e9f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::nanf("")};
  for (int c = 0; c < 0x7e; ++c) {
    const float mid = (e4m3_to_float(std::uint8_t(c)) + e4m3_to_float(std::uint8_t(c + 1))) / 2;
    for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1000.0f)}) {
      values.push_back(v);
      values.push_back(-v);
    }
  }
  const float scale = 0.5f;  // a power of two: x / scale is exact, so the ties stay ties
  const int w = 37, h = int(values.size() + w - 1) / w;
  for (bool in_place : {false, true}) {
    Planes in(2, h, w), out(2, h, w);
    for (int c = 0; c < 2; ++c)
      for (std::size_t k = 0; k < values.size(); ++k)
        in.p.plane(c)[in.p.geo.origin() + (k / w) * in.p.geo.pitch() + k % w] = values[k] * scale;
    const Planes& target = in_place ? in : out;
    round_to_e4m3_padded(in.p, scale, target.p);
    for (int c = 0; c < 2; ++c) {
      for (std::size_t k = 0; k < values.size(); ++k) {
        const float got = target.p.plane(c)[target.p.geo.origin() + (k / w) * target.p.geo.pitch() + k % w];
        const float want = round_to_e4m3(values[k]) * scale;
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got)) << values[k];
        } else {
          EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << values[k] << ": " << got << " vs " << want;
        }
      }
      const float* plane = target.p.plane(c);
      for (std::size_t i = 0; i < target.p.geo.plane_stride(); ++i) {
        const std::size_t y = i / target.p.geo.pitch(), x = i % target.p.geo.pitch();
        const bool interior = y >= 1 && y <= std::size_t(h) && x >= 1 && x <= std::size_t(w);
        if (!interior) {
          ASSERT_EQ(plane[i], 0.0f) << "ring or slack at " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace resr::cpu
