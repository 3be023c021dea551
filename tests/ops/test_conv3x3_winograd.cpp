// conv3x3_winograd{43,63}_f32_{avx2,avx512} vs a naive double plain-CHW zero-padded reference: channel counts of
// RRDBNet plus odd ones, odd spatial sizes (edge tiles, fewer tiles than a block), every epilogue, output into
// a channel slice of a garbage-filled buffer (ring/slack zero after the call, neighbours untouched), in-place
// residual. Also the packed layouts, the accuracy on model-like data (printed), and conv3x3_choose_algo. The
// AVX-512 kernels are skipped on CPUs without AVX-512, the binary16-weight (f16w) ones without AVX-512 + F16C, the
// bfloat16 one without AVX512_BF16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/conv3x3_winograd.h"
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
enum class Epi { kBias, kLeaky, kPrelu, kResidual, kResidualInPlace };
enum class Algo { k43, k63, k43x512, k63x512, k43f16w, k63f16w, k43bf16, k63bf16 };
bool is_bf16(Algo a) {
  return a == Algo::k43bf16 || a == Algo::k63bf16;
}

// Max abs error allowed for the f16w kernels beyond the fp32 ones', as a multiple of conv_l1_bound: each
// transformed weight is rounded to binary16 (relative <= 2^-11), and the transforms amplify such weight errors
// as they amplify fp32 rounding. Measured over MatchesReference and AccuracyOnModelLikeData: max error up to
// 10.2 (F(4,3)) and 16.8 (F(6,3)) times 2^-11 * conv_l1_bound; allowed: 20 and 40 times.
// max_o sum |w[o]| * max |x|: no output of the conv can exceed it, and it is the scale of the error that the
// rounding of the weights causes (the output itself may be much smaller, by cancellation).
double conv_l1_bound(const std::vector<float>& wt, const std::vector<float>& x, int oc) {
  double wmax = 0.0, xmax = 0.0;
  const std::size_t per = wt.size() / oc;
  for (int o = 0; o < oc; ++o) {
    double s = 0.0;
    for (std::size_t k = 0; k < per; ++k) s += std::fabs(wt[o * per + k]);
    wmax = std::max(wmax, s);
  }
  for (const float v : x) xmax = std::max(xmax, double(std::fabs(v)));
  return wmax * xmax;
}

double f16w_rel_tol(bool f43) {
  return std::ldexp(f43 ? 20.0 : 40.0, -11);
}

// The same for the bfloat16 kernels, whose V (the transformed input) is rounded too, to 8 significant bits
// (relative <= 2^-8) like U. Measured over MatchesReference and AccuracyOnModelLikeData: max error up to 13.1
// (F(4,3)) and 27.7 (F(6,3)) times 2^-8 * conv_l1_bound; allowed: 30 and 60 times.
double bf16_rel_tol(bool f43) {
  return std::ldexp(f43 ? 30.0 : 60.0, -8);
}
// Extra error allowed for algo a beyond fp32's, as a multiple of conv_l1_bound.
double rounding_rel_tol(Algo a) {
  if (is_bf16(a)) return bf16_rel_tol(a == Algo::k43bf16);
  return a == Algo::k43f16w || a == Algo::k63f16w ? f16w_rel_tol(a == Algo::k43f16w) : 0.0;
}

bool is43(Algo a) {
  return a == Algo::k43 || a == Algo::k43x512 || a == Algo::k43f16w || a == Algo::k43bf16;
}
bool is512(Algo a) {
  return a == Algo::k43x512 || a == Algo::k63x512;
}
bool is_f16w(Algo a) {
  return a == Algo::k43f16w || a == Algo::k63f16w;
}
const char* algo_name(Algo a) {
  switch (a) {
    case Algo::k43:
      return "wino43";
    case Algo::k63:
      return "wino63";
    case Algo::k43x512:
      return "wino43avx512";
    case Algo::k63x512:
      return "wino63avx512";
    case Algo::k43f16w:
      return "wino43f16w";
    case Algo::k63f16w:
      return "wino63f16w";
    case Algo::k43bf16:
      return "wino43bf16";
    case Algo::k63bf16:
      return "wino63bf16";
  }
  return "?";
}
bool supported(Algo a) {
  if (is_bf16(a)) return cpu_has_avx512_bf16();
  if (is_f16w(a)) return cpu_has_avx512f_f16c();
  return is512(a) ? cpu_has_avx512f() : cpu_has_avx2_fma();
}
const char* requirement(Algo a) {
  if (is_bf16(a)) return "avx512_bf16";
  return is_f16w(a) ? "avx512 + f16c" : is512(a) ? "avx512" : "avx2/fma";
}

const char* epi_name(Epi e) {
  switch (e) {
    case Epi::kBias:
      return "bias";
    case Epi::kLeaky:
      return "leaky";
    case Epi::kPrelu:
      return "prelu";
    case Epi::kResidual:
      return "res";
    case Epi::kResidualInPlace:
      return "resinplace";
  }
  return "?";
}

// Packs torch-order weights for `a` and runs it.
void run_algo(Algo a, const std::vector<float>& wt, int oc, int ic, const PaddedPlanes& in, const PaddedPlanes& out,
              const ConvEpilogue& ep) {
  const int m = is43(a) ? 4 : 6;
  if (is_bf16(a)) {
    const PackedWinogradOc8Bf16 pw = pack_conv3x3_winograd_oc8_bf16(wt.data(), oc, ic, m);
    if (m == 4) conv3x3_winograd43_bf16_avx512(pw, in, out, ep);
    if (m == 6) conv3x3_winograd63_bf16_avx512(pw, in, out, ep);
  } else if (is_f16w(a)) {
    const PackedWinogradOc8F16 pw = pack_conv3x3_winograd_oc8_f16(wt.data(), oc, ic, m);
    if (m == 4) conv3x3_winograd43_f16w_avx512(pw, in, out, ep);
    if (m == 6) conv3x3_winograd63_f16w_avx512(pw, in, out, ep);
  } else if (is512(a)) {
    const PackedWinogradOc8 pw = pack_conv3x3_winograd_oc8_f32(wt.data(), oc, ic, m);
    if (m == 4) conv3x3_winograd43_f32_avx512(pw, in, out, ep);
    if (m == 6) conv3x3_winograd63_f32_avx512(pw, in, out, ep);
  } else {
    const PackedWinograd pw = pack_conv3x3_winograd_f32(wt.data(), oc, ic, m);
    if (m == 4) conv3x3_winograd43_f32_avx2(pw, in, out, ep);
    if (m == 6) conv3x3_winograd63_f32_avx2(pw, in, out, ep);
  }
}

using Param = std::tuple<ChannelPair, Size2, Epi, Algo>;

class Conv3x3WinogradTest : public ::testing::TestWithParam<Param> {};

TEST_P(Conv3x3WinogradTest, MatchesReference) {
  const auto [cp, sz, epi, algo] = GetParam();
  if (!supported(algo)) GTEST_SKIP() << "cpu lacks " << requirement(algo);
  const int ic = cp.ic, oc = cp.oc, h = sz.h, w = sz.w;
  const Case& c = get_case(ic, oc, h, w, 99u);

  ConvEpilogue ep;
  ep.bias = c.bias.data();
  if (epi == Epi::kLeaky || epi == Epi::kResidualInPlace) {
    ep.act = Activation::kLeakyRelu;
    ep.leaky_slope = 0.2f;
  }
  if (epi == Epi::kPrelu || epi == Epi::kResidual) {
    ep.act = Activation::kPrelu;
    ep.prelu_slopes = c.slopes.data();
  }
  const bool has_res = epi == Epi::kResidual || epi == Epi::kResidualInPlace;
  if (has_res) {
    ep.out_scale = 0.2f;
    ep.residual_scale = epi == Epi::kResidual ? 0.5f : 1.0f;
  }

  const PaddedGeometry geo{h, w};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  AlignedBuffer in_buf(geo.floats(ic));
  PaddedPlanes in{in_buf.data(), ic, geo};
  fill_planes(in, 0, c.in, ic, nan);  // input slack may hold anything

  // Output: channel slice [2, 2 + oc) of a buffer of oc + 5 channels, pre-filled with garbage.
  constexpr int kFirst = 2;
  const int total = oc + 5;
  AlignedBuffer out_buf(geo.floats(total));
  PaddedPlanes big{out_buf.data(), total, geo};
  for (std::size_t k = 0; k < geo.floats(total); ++k) out_buf.data()[k] = 777.0f;
  PaddedPlanes out = big.slice(kFirst, oc);

  AlignedBuffer res_buf(geo.floats(oc));
  PaddedPlanes res{res_buf.data(), oc, geo};
  if (epi == Epi::kResidualInPlace) {
    fill_planes(big, kFirst, c.res, oc, 0.0f);
    ep.residual = &out;
  } else if (epi == Epi::kResidual) {
    fill_planes(res, 0, c.res, oc, nan);
    ep.residual = &res;
  }

  run_algo(algo, c.wt, oc, ic, in, out, ep);

  double max_ref = 0.0;
  const test::PlaneScan scan = test::scan_output(out, oc, [&](int o, std::size_t idx, float v) {
    const double slope = ep.act == Activation::kPrelu ? c.slopes[o] : ep.leaky_slope;
    double s = c.conv[idx] + c.bias[o];
    if (ep.act != Activation::kNone && s < 0) s *= slope;
    s *= ep.out_scale;
    if (has_res) s += double(ep.residual_scale) * c.res[idx];
    max_ref = std::max(max_ref, std::fabs(s));
    return std::fabs(double(v) - s);
  });
  const double max_err = scan.max_err;
  const int bad_ring = scan.bad_ring;
  // Outputs are ~1 in magnitude; F(6,3) rounds more (larger transform coefficients); f16w: see f16w_rel_tol.
  const double tol = is43(algo) ? 1e-4 : 5e-4;
  const double l1 = conv_l1_bound(c.wt, c.in, oc);
  EXPECT_LE(max_err, tol + rounding_rel_tol(algo) * l1);
  if (std::getenv("RESR_TEST_PRINT_ERR") != nullptr)
    std::printf("[ err ] %s %.2f x 2^-8 l1\n", algo_name(algo), (max_err - tol) / std::ldexp(l1, -8));
  EXPECT_EQ(bad_ring, 0) << "ring/slack floats not zero";
  EXPECT_EQ(test::touched_outside(big, kFirst, oc, 777.0f), 0) << "wrote outside the output slice";
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto [cp, sz, epi, algo] = info.param;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s_ic%d_oc%d_%dx%d_%s", algo_name(algo), cp.ic, cp.oc, sz.h, sz.w, epi_name(epi));
  return buf;
}

INSTANTIATE_TEST_SUITE_P(
    All, Conv3x3WinogradTest,
    ::testing::Combine(::testing::Values(ChannelPair{64, 64}, ChannelPair{64, 32}, ChannelPair{192, 32},
                                         ChannelPair{200, 24}, ChannelPair{3, 64}, ChannelPair{64, 3},
                                         ChannelPair{5, 7}),
                       ::testing::Values(Size2{1, 1}, Size2{2, 3}, Size2{5, 7}, Size2{23, 19}, Size2{37, 29},
                                         Size2{64, 64}, Size2{13, 61}),
                       ::testing::Values(Epi::kBias, Epi::kLeaky, Epi::kPrelu, Epi::kResidual, Epi::kResidualInPlace),
                       ::testing::Values(Algo::k43, Algo::k63, Algo::k43x512, Algo::k63x512, Algo::k43f16w,
                                         Algo::k63f16w, Algo::k43bf16, Algo::k63bf16)),
    param_name);

// Model-like data: inputs in [0, 1], weights ~ +-0.05 (|w| as in RRDBNet), leaky 0.2; max abs error vs double.
TEST(Conv3x3Winograd, AccuracyOnModelLikeData) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks avx2/fma";
  for (const ChannelPair cp : {ChannelPair{64, 32}, ChannelPair{192, 32}, ChannelPair{64, 64}}) {
    const int ic = cp.ic, oc = cp.oc, h = 48, w = 48;
    std::mt19937 rng(5u + ic);
    const std::vector<float> x = random_vec(std::size_t(ic) * h * w, 0.0f, 1.0f, rng);
    const std::vector<float> wt = random_vec(std::size_t(oc) * ic * 9, -0.08f, 0.08f, rng);
    const std::vector<double> ref = conv_ref(x, wt, ic, oc, h, w);
    double max_abs = 0.0;
    for (double v : ref) max_abs = std::max(max_abs, std::fabs(v));
    const PaddedGeometry geo{h, w};
    AlignedBuffer in_buf(geo.floats(ic)), out_buf(geo.floats(oc));
    PaddedPlanes in{in_buf.data(), ic, geo}, out{out_buf.data(), oc, geo};
    fill_planes(in, 0, x, ic, 0.0f);
    for (const Algo a : {Algo::k43, Algo::k63, Algo::k43x512, Algo::k63x512, Algo::k43f16w, Algo::k63f16w,
                         Algo::k43bf16, Algo::k63bf16}) {
      if (!supported(a)) continue;
      run_algo(a, wt, oc, ic, in, out, {});
      double max_err = 0.0, sum_err = 0.0;
      for (int o = 0; o < oc; ++o)
        for (int y = 0; y < h; ++y)
          for (int xx = 0; xx < w; ++xx) {
            const double e = std::fabs(double(out.plane(o)[(y + 1) * geo.pitch() + xx + 1]) -
                                       ref[(std::size_t(o) * h + y) * w + xx]);
            max_err = std::max(max_err, e);
            sum_err += e;
          }
      std::printf("[ accuracy ] %-12s ic=%d oc=%d: max |out| %.3f, max abs err %.2e, mean abs err %.2e\n", algo_name(a),
                  ic, oc, max_abs, max_err, sum_err / (double(oc) * h * w));
      const double tol = is43(a) ? 1e-4 : 5e-4;
      const double l1 = conv_l1_bound(wt, x, oc);
      EXPECT_LE(max_err, tol + rounding_rel_tol(a) * l1);
      if (std::getenv("RESR_TEST_PRINT_ERR") != nullptr)
        std::printf("[ err ] %s %.2f x 2^-8 l1\n", algo_name(a), (max_err - tol) / std::ldexp(l1, -8));
      if (is_f16w(a)) {
        EXPECT_LE(sum_err / (double(oc) * h * w), std::ldexp(max_abs, -11));
      }
      if (is_bf16(a)) {  // measured up to 2^-8 of max |out| (F(6,3), ic 192)
        EXPECT_LE(sum_err / (double(oc) * h * w), std::ldexp(max_abs, -6));
      }
    }
  }
}

TEST(Conv3x3Winograd, PackLayoutAndIdentity) {
  // A centre-tap-only filter is the identity: U = (G e1)(G e1)^T, and the conv must return the input.
  for (const int m : {4, 6}) {
    std::vector<float> wt(3 * 5 * 9, 0.0f);
    for (int o = 0; o < 3; ++o) wt[(std::size_t(o) * 5 + o) * 9 + 4] = 1.0f;
    const PackedWinograd p = pack_conv3x3_winograd_f32(wt.data(), 3, 5, m);
    ASSERT_EQ(p.tile(), m + 2);
    ASSERT_EQ(p.oc_blocks(), 1);
    ASSERT_EQ(p.weights.size(), std::size_t(p.positions()) * 1 * 5 * 4);
    for (int pos = 0; pos < p.positions(); ++pos)
      for (int c = 0; c < 5; ++c) {
        EXPECT_EQ(p.weights.data()[(std::size_t(pos) * 5 + c) * 4 + 3], 0.0f);  // padded output 3
        for (int o = 0; o < 3; ++o)
          if (o != c) {
            EXPECT_EQ(p.at(pos, o, c), 0.0f);
          }
      }
    if (!cpu_has_avx2_fma()) continue;
    const PaddedGeometry geo{9, 11};
    AlignedBuffer a(geo.floats(5)), b(geo.floats(3));
    PaddedPlanes in{a.data(), 5, geo}, out{b.data(), 3, geo};
    std::mt19937 rng(3);
    const std::vector<float> x = random_vec(5 * 9 * 11, -1.0f, 1.0f, rng);
    fill_planes(in, 0, x, 5, 0.0f);
    if (m == 4) conv3x3_winograd43_f32_avx2(p, in, out, {});
    if (m == 6) conv3x3_winograd63_f32_avx2(p, in, out, {});
    for (int o = 0; o < 3; ++o)
      for (int y = 0; y < 9; ++y)
        for (int xx = 0; xx < 11; ++xx)
          EXPECT_NEAR(out.plane(o)[(y + 1) * geo.pitch() + xx + 1], x[(std::size_t(o) * 9 + y) * 11 + xx], 1e-5);
  }
}

TEST(Conv3x3Winograd, PackOc8LayoutAndIdentity) {
  // Same U as the 4-wide packing, in blocks of 8 outputs (11 outputs: the second block has 5 zero lanes).
  std::mt19937 rng(11);
  const std::vector<float> wt = random_vec(11 * 5 * 9, -1.0f, 1.0f, rng);
  for (const int m : {4, 6}) {
    const PackedWinograd p4 = pack_conv3x3_winograd_f32(wt.data(), 11, 5, m);
    const PackedWinogradOc8 p8 = pack_conv3x3_winograd_oc8_f32(wt.data(), 11, 5, m);
    ASSERT_EQ(p8.oc_blocks(), 2);
    ASSERT_EQ(p8.weights.size(), std::size_t(p8.positions()) * 2 * 5 * 8);
    for (int pos = 0; pos < p8.positions(); ++pos)
      for (int c = 0; c < 5; ++c) {
        for (int o = 0; o < 11; ++o) EXPECT_EQ(p8.at(pos, o, c), p4.at(pos, o, c));
        // Blocks outermost: block 1 of position pos is slice p8.positions() + pos.
        const std::size_t b1 = (std::size_t(p8.positions() + pos) * 5 + c) * 8;
        EXPECT_EQ(p8.weights.data()[b1 + 3], 0.0f);  // padded output 11
        EXPECT_EQ(p8.weights.data()[b1 + 7], 0.0f);  // padded output 15
      }
  }
  if (!cpu_has_avx512f()) GTEST_SKIP() << "cpu lacks avx512";
  // Centre-tap identity through the AVX-512 kernels, on a size with full and edge groups of 16 tiles.
  for (const Algo a : {Algo::k43x512, Algo::k63x512}) {
    std::vector<float> id(3 * 5 * 9, 0.0f);
    for (int o = 0; o < 3; ++o) id[(std::size_t(o) * 5 + o) * 9 + 4] = 1.0f;
    const PaddedGeometry geo{41, 67};
    AlignedBuffer ab(geo.floats(5)), bb(geo.floats(3));
    PaddedPlanes in{ab.data(), 5, geo}, out{bb.data(), 3, geo};
    const std::vector<float> x = random_vec(5 * 41 * 67, -1.0f, 1.0f, rng);
    fill_planes(in, 0, x, 5, 0.0f);
    run_algo(a, id, 3, 5, in, out, {});
    for (int o = 0; o < 3; ++o)
      for (int y = 0; y < 41; ++y)
        for (int xx = 0; xx < 67; ++xx)
          ASSERT_NEAR(out.plane(o)[(y + 1) * geo.pitch() + xx + 1], x[(std::size_t(o) * 41 + y) * 67 + xx], 1e-5)
              << algo_name(a) << " o " << o << " y " << y << " x " << xx;
  }
}

TEST(Conv3x3Winograd, PackOc8F16IsRoundedOc8) {
  if (!cpu_has_avx512f_f16c()) GTEST_SKIP() << "cpu lacks avx512 + f16c";
  // The binary16 packing holds the fp32 packing's U rounded to nearest: same layout, half the bytes.
  std::mt19937 rng(12);
  const std::vector<float> wt = random_vec(11 * 5 * 9, -1.0f, 1.0f, rng);
  for (const int m : {4, 6}) {
    const PackedWinogradOc8 p8 = pack_conv3x3_winograd_oc8_f32(wt.data(), 11, 5, m);
    const PackedWinogradOc8F16 p16 = pack_conv3x3_winograd_oc8_f16(wt.data(), 11, 5, m);
    ASSERT_EQ(p16.weights.size(), p8.weights.size());
    EXPECT_EQ(2 * p16.weights.bytes(), p8.weights.bytes());
    ASSERT_EQ(p16.scales.size(), std::size_t(p8.positions()) * 2);
    for (int pos = 0; pos < p8.positions(); ++pos)
      for (int c = 0; c < 5; ++c)
        for (int o = 0; o < 16; ++o) {
          const std::size_t k = ((std::size_t(o / 8) * p8.positions() + pos) * 5 + c) * 8 + o % 8;
          const float u = p8.weights.data()[k], h = p16.scale(pos, o / 8) * half_to_float(p16.weights.data()[k]);
          // Nearest binary16 (10 fraction bits) of the scaled value: 2^-11 relative, down to tiny |U| (they are
          // within 2^-28 of the block's largest, normal binary16 after scaling).
          ASSERT_LE(std::fabs(h - u), std::ldexp(std::fabs(u), -11)) << "pos " << pos << " c " << c << " o " << o;
          if (o < 11) {
            EXPECT_EQ(p16.at(pos, o, c), h);
          }
        }
  }
}

TEST(Conv3x3Winograd, PackOc8Bf16IsRoundedOc8InPairs) {
  // The bfloat16 packing holds the fp32 packing's U rounded to nearest, two input channels per 32-bit word (the
  // even one low); with an odd ic the last word's high half is zero.
  std::mt19937 rng(13);
  const std::vector<float> wt = random_vec(11 * 5 * 9, -1.0f, 1.0f, rng);
  for (const int m : {4, 6}) {
    const PackedWinogradOc8 p8 = pack_conv3x3_winograd_oc8_f32(wt.data(), 11, 5, m);
    const PackedWinogradOc8Bf16 pb = pack_conv3x3_winograd_oc8_bf16(wt.data(), 11, 5, m);
    ASSERT_EQ(pb.ic_pairs(), 3);
    ASSERT_EQ(pb.weights.size(), std::size_t(p8.positions()) * 2 * 3 * 8);
    for (int pos = 0; pos < p8.positions(); ++pos)
      for (int o = 0; o < 16; ++o) {
        for (int c = 0; c < 5; ++c) {
          const float u = p8.weights.data()[p8.slice(pos, o / 8) + std::size_t(c) * 8 + o % 8];
          const std::uint32_t word = pb.weights.data()[pb.slice(pos, o / 8) + std::size_t(c / 2) * 8 + o % 8];
          const float b = bf16_to_float(std::uint16_t(c % 2 == 0 ? word & 0xffffu : word >> 16));
          // Nearest bfloat16 (7 fraction bits): relative <= 2^-8.
          ASSERT_LE(std::fabs(b - u), std::ldexp(std::fabs(u), -8)) << "pos " << pos << " c " << c << " o " << o;
          EXPECT_EQ(pb.at(pos, o, c), b);
          if (o >= 11) {
            EXPECT_EQ(b, 0.0f);
          }
        }
        EXPECT_EQ(pb.weights.data()[pb.slice(pos, o / 8) + 2 * 8 + o % 8] >> 16, 0u) << "channel 5 of 5";
      }
  }
}

TEST(Conv3x3Winograd, EmptyIsNoOp) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks avx2/fma";
  const std::vector<float> wt(9 * 2 * 2, 1.0f);
  const PackedWinograd p4 = pack_conv3x3_winograd_f32(wt.data(), 2, 2, 4);
  const PackedWinograd p6 = pack_conv3x3_winograd_f32(wt.data(), 2, 2, 6);
  const PaddedGeometry geo{0, 5};
  AlignedBuffer a(geo.floats(2)), b(geo.floats(2));
  conv3x3_winograd43_f32_avx2(p4, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
  conv3x3_winograd63_f32_avx2(p6, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
  if (!cpu_has_avx512f()) return;
  const PackedWinogradOc8 q4 = pack_conv3x3_winograd_oc8_f32(wt.data(), 2, 2, 4);
  const PackedWinogradOc8 q6 = pack_conv3x3_winograd_oc8_f32(wt.data(), 2, 2, 6);
  conv3x3_winograd43_f32_avx512(q4, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
  conv3x3_winograd63_f32_avx512(q6, {a.data(), 2, geo}, {b.data(), 2, geo}, {});
}

TEST(Conv3x3Winograd, ChooseAlgo) {
  EXPECT_STREQ(conv3x3_choose_algo(64, 3, 512, 512), "direct");  // the last conv of the models
  EXPECT_STREQ(conv3x3_choose_algo(3, 64, 128, 128), "winograd43");
  const std::string a = conv3x3_choose_algo(64, 32, 128, 128);
  EXPECT_TRUE(a == "winograd43" || a == "winograd63") << a;
}

}  // namespace
}  // namespace resr::cpu
