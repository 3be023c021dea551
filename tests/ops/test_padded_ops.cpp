// shuffle_add_upsampled_padded (the fused tail of SRVGGNetCompact) against the unfused ops it replaces:
// pixel_shuffle_padded and upsample_nearest_padded, then weighted_sum_padded. Every float of the output plane
// (ring and slack included, pre-filled with garbage) must match, for several factors, odd sizes and coefficients.
#include <gtest/gtest.h>

#include <random>

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

}  // namespace
}  // namespace resr::cpu
