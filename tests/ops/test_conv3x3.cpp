// conv3x3 kernels (avx512, avx2, generic) vs a naive plain-CHW zero-padded reference, for the channel counts of
// RRDBNet / SRVGGNetCompact plus odd ones, odd spatial sizes and every epilogue; also checks the ring/slack
// invariant, that neighbouring channels of the output slice are untouched, and in-place residual.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "conv_test_support.h"

namespace resr::cpu {
namespace {

using test::Case;
using test::conv_ref;
using test::fill_planes;
using test::get_case;
using test::random_vec;

struct ChannelPair {
  int ic, oc;
};
struct Size2 {
  int h, w;
};
enum class Epi { kPlain, kBias, kLeaky, kPrelu, kResidual02, kResidual10, kResidualInPlace };
enum class Impl { kAvx512, kAvx2, kGeneric };

const char* impl_name(Impl i) {
  switch (i) {
    case Impl::kAvx512:
      return "avx512";
    case Impl::kAvx2:
      return "avx2";
    case Impl::kGeneric:
      return "generic";
  }
  return "?";
}

const char* epi_name(Epi e) {
  switch (e) {
    case Epi::kPlain:
      return "plain";
    case Epi::kBias:
      return "bias";
    case Epi::kLeaky:
      return "leaky";
    case Epi::kPrelu:
      return "prelu";
    case Epi::kResidual02:
      return "res02";
    case Epi::kResidual10:
      return "res10";
    case Epi::kResidualInPlace:
      return "resinplace";
  }
  return "?";
}

// The expected output: out = out_scale * act(conv + bias) + rs * residual, in double.
std::vector<float> reference(const Case& c, int oc, int h, int w, const ConvEpilogue& ep, bool has_res) {
  std::vector<float> out(std::size_t(oc) * h * w);
  for (int o = 0; o < oc; ++o) {
    for (std::size_t p = 0; p < std::size_t(h) * w; ++p) {
      const std::size_t k = std::size_t(o) * h * w + p;
      double s = c.conv[k] + (ep.bias != nullptr ? ep.bias[o] : 0.0);
      if (ep.act == Activation::kLeakyRelu && s < 0) s *= ep.leaky_slope;
      if (ep.act == Activation::kPrelu && s < 0) s *= ep.prelu_slopes[o];
      s *= ep.out_scale;
      if (has_res) s += double(ep.residual_scale) * c.res[k];
      out[k] = float(s);
    }
  }
  return out;
}

using Param = std::tuple<ChannelPair, Size2, Epi, Impl>;

class Conv3x3Test : public ::testing::TestWithParam<Param> {};

TEST_P(Conv3x3Test, MatchesReference) {
  const auto [cp, sz, epi, impl] = GetParam();
  if (impl == Impl::kAvx2 && !cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks avx2/fma";
  if (impl == Impl::kAvx512 && !cpu_has_avx512f()) GTEST_SKIP() << "cpu lacks avx512f";
  const int ic = cp.ic, oc = cp.oc, h = sz.h, w = sz.w;
  const Case& c = get_case(ic, oc, h, w, 1234u);
  const std::vector<float>& in_chw = c.in;
  const std::vector<float>& wt = c.wt;
  const std::vector<float>& bias = c.bias;
  const std::vector<float>& slopes = c.slopes;
  const std::vector<float>& res_chw = c.res;

  ConvEpilogue ep;
  if (epi != Epi::kPlain) ep.bias = bias.data();
  if (epi == Epi::kLeaky || epi == Epi::kResidual02 || epi == Epi::kResidualInPlace) {
    ep.act = Activation::kLeakyRelu;
    ep.leaky_slope = 0.2f;
  }
  if (epi == Epi::kPrelu || epi == Epi::kResidual10) {
    ep.act = Activation::kPrelu;
    ep.prelu_slopes = slopes.data();
  }
  const bool has_res = epi == Epi::kResidual02 || epi == Epi::kResidual10 || epi == Epi::kResidualInPlace;
  if (epi == Epi::kResidual02 || epi == Epi::kResidualInPlace) ep.out_scale = 0.2f;

  const PaddedGeometry geo{h, w};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  AlignedBuffer in_buf(geo.floats(ic));
  PaddedPlanes in{in_buf.data(), ic, geo};
  fill_planes(in, 0, in_chw, ic, nan);  // input slack may hold anything

  // Output: a channel slice [2, 2 + oc) of a buffer of oc + 5 channels, pre-filled with garbage.
  constexpr int kFirst = 2;
  const int total = oc + 5;
  AlignedBuffer out_buf(geo.floats(total));
  PaddedPlanes big{out_buf.data(), total, geo};
  for (std::size_t k = 0; k < geo.floats(total); ++k) out_buf.data()[k] = 777.0f;
  PaddedPlanes out = big.slice(kFirst, oc);

  AlignedBuffer res_buf(geo.floats(oc));
  PaddedPlanes res{res_buf.data(), oc, geo};
  if (has_res) {
    ep.residual_scale = epi == Epi::kResidual02 ? 1.0f : 0.5f;
    if (epi == Epi::kResidualInPlace) {
      fill_planes(big, kFirst, res_chw, oc, 0.0f);
      ep.residual = &out;
    } else {
      fill_planes(res, 0, res_chw, oc, nan);
      ep.residual = &res;
    }
  }

  const std::vector<float> expect = reference(c, oc, h, w, ep, has_res);
  const PackedConv3x3 pw = pack_conv3x3_f32(wt.data(), oc, ic);
  if (impl == Impl::kAvx512) {
    conv3x3_direct_f32_avx512(pack_conv3x3_oc8_f32(wt.data(), oc, ic), in, out, ep);
  } else if (impl == Impl::kAvx2) {
    conv3x3_direct_f32_avx2(pw, in, out, ep);
  } else {
    conv3x3_direct_f32_generic(pw, in, out, ep);
  }

  const test::PlaneScan scan =
      test::scan_output(out, oc, [&](int, std::size_t i, float v) { return std::fabs(double(v) - expect[i]); });
  EXPECT_LE(scan.max_err, 1e-4);
  EXPECT_EQ(scan.bad_ring, 0) << "ring/slack floats not zero";
  EXPECT_EQ(test::touched_outside(big, kFirst, oc, 777.0f), 0) << "wrote outside the output slice";
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto [cp, sz, epi, impl] = info.param;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s_ic%d_oc%d_%dx%d_%s", impl_name(impl), cp.ic, cp.oc, sz.h, sz.w, epi_name(epi));
  return buf;
}

INSTANTIATE_TEST_SUITE_P(
    All, Conv3x3Test,
    ::testing::Combine(::testing::Values(ChannelPair{3, 64}, ChannelPair{64, 64}, ChannelPair{64, 32},
                                         ChannelPair{96, 32}, ChannelPair{192, 32}, ChannelPair{64, 48},
                                         ChannelPair{64, 3}, ChannelPair{5, 7}),
                       ::testing::Values(Size2{1, 1}, Size2{2, 3}, Size2{23, 19}, Size2{37, 29}, Size2{64, 64}),
                       ::testing::Values(Epi::kPlain, Epi::kBias, Epi::kLeaky, Epi::kPrelu, Epi::kResidual02,
                                         Epi::kResidual10, Epi::kResidualInPlace),
                       ::testing::Values(Impl::kAvx512, Impl::kAvx2, Impl::kGeneric)),
    param_name);

// Wide inputs: the avx512 kernel splits ic into chunks above 256 channels (partial sums re-loaded per chunk).
INSTANTIATE_TEST_SUITE_P(WideIc, Conv3x3Test,
                         ::testing::Combine(::testing::Values(ChannelPair{300, 11}, ChannelPair{520, 8}),
                                            ::testing::Values(Size2{23, 19}, Size2{5, 70}),
                                            ::testing::Values(Epi::kPrelu, Epi::kResidualInPlace),
                                            ::testing::Values(Impl::kAvx512, Impl::kAvx2)),
                         param_name);

TEST(Conv3x3Pack, Layout) {
  std::vector<float> wt(5 * 3 * 9);
  for (std::size_t k = 0; k < wt.size(); ++k) wt[k] = float(k + 1);
  const PackedConv3x3 p = pack_conv3x3_f32(wt.data(), 5, 3);
  ASSERT_EQ(p.oc_blocks(), 2);
  ASSERT_EQ(p.weights.size(), std::size_t(2 * 3 * 9 * 4));
  for (int o = 0; o < 5; ++o)
    for (int i = 0; i < 3; ++i)
      for (int t = 0; t < 9; ++t) EXPECT_EQ(p.at(o, i, t), wt[(o * 3 + i) * 9 + t]);
  // padded outputs 5..7 of block 1 are zero
  for (int i = 0; i < 3; ++i)
    for (int t = 0; t < 9; ++t)
      for (int j = 1; j < 4; ++j) EXPECT_EQ(p.weights.data()[((1 * 3 + i) * 9 + t) * 4 + j], 0.0f);
}

TEST(Conv3x3Pack, LayoutOc8) {
  std::vector<float> wt(11 * 3 * 9);
  for (std::size_t k = 0; k < wt.size(); ++k) wt[k] = float(k + 1);
  const PackedConv3x3Oc8 p = pack_conv3x3_oc8_f32(wt.data(), 11, 3);
  ASSERT_EQ(p.oc_blocks(), 2);
  ASSERT_EQ(p.weights.size(), std::size_t(2 * 3 * 9 * 8));
  for (int o = 0; o < 11; ++o)
    for (int i = 0; i < 3; ++i)
      for (int t = 0; t < 9; ++t) {
        EXPECT_EQ(p.at(o, i, t), wt[(o * 3 + i) * 9 + t]);
        EXPECT_EQ(p.weights.data()[((std::size_t(o / 8) * 3 + i) * 9 + t) * 8 + o % 8], wt[(o * 3 + i) * 9 + t]);
      }
  // padded outputs 11..15 of block 1 are zero
  for (int i = 0; i < 3; ++i)
    for (int t = 0; t < 9; ++t)
      for (int j = 3; j < 8; ++j) EXPECT_EQ(p.weights.data()[((1 * 3 + i) * 9 + t) * 8 + j], 0.0f);
}

TEST(Conv3x3, EmptyIsNoOp) {
  const PackedConv3x3 p = pack_conv3x3_f32(std::vector<float>(9 * 2 * 2, 1.0f).data(), 2, 2);
  const PaddedGeometry geo{0, 5};
  AlignedBuffer a(geo.floats(2)), b(geo.floats(2));
  conv3x3_direct_f32_generic(p, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
  if (cpu_has_avx2_fma()) conv3x3_direct_f32_avx2(p, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
  const PackedConv3x3Oc8 p8 = pack_conv3x3_oc8_f32(std::vector<float>(9 * 2 * 2, 1.0f).data(), 2, 2);
  if (cpu_has_avx512f()) conv3x3_direct_f32_avx512(p8, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
}

}  // namespace
}  // namespace resr::cpu
