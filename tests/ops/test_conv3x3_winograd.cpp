// conv3x3_winograd{43,63}_f32_{avx2,avx512} vs a naive double plain-CHW zero-padded reference: channel counts of
// RRDBNet plus odd ones, odd spatial sizes (edge tiles, fewer tiles than a block), every epilogue, output into
// a channel slice of a garbage-filled buffer (ring/slack zero after the call, neighbours untouched), in-place
// residual. Also the packed layouts, the accuracy on model-like data (printed), and conv3x3_choose_algo. The
// AVX-512 kernels are skipped on CPUs without AVX-512, the binary16-weight (f16w) ones without AVX-512 + F16C, the
// bfloat16 ones without AVX512_BF16.
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
// (F(4,3)) and 27.7 (F(6,3)) times 2^-8 * conv_l1_bound; allowed: 30 and 60 times. That bound grows as sqrt(ic)
// and passes anything for wide convs; Bf16KernelsMatchAnEmulationOfTheirArithmetic is the sharp check.
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
  // Outputs are ~1 in magnitude; F(6,3) rounds more (larger transform coefficients); f16w, bf16: rounding_rel_tol.
  const double tol = is43(algo) ? 1e-4 : 5e-4;
  const double l1 = conv_l1_bound(c.wt, c.in, oc);
  EXPECT_LE(max_err, tol + rounding_rel_tol(algo) * l1);
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

// The bfloat16 kernels against an emulation of their own arithmetic: V = B^T d B in fp32 with the kernels' own
// operations in their order (scalar std::fma; IEEE gives the same bits), rounded to bfloat16; U from the packing;
// the sums and A^T M A in double. What remains between the two is the rounding of the kernels' fp32 sums and
// output transform, far below what bfloat16 costs against fp32 (MatchesReference's bound): a lost or swapped
// channel pair, a wrong chunk boundary or a mishandled odd channel shows at once. Shapes: odd ic (the zero half
// pair), ic > 192 (chunks; 193: an odd last chunk), oc not a multiple of 8, edge tiles, 16- and 32-tile blocks.
// Measured: at most 3.9e-6 of the largest output from the emulation; 2.8e-2 to 6.7e-2 from fp32 with >= 8 input
// channels (1.6e-2 with one); allowed 1e-4.
// V's channel pairs swapped (a mutant): 0.83-1.0.
template <int M>
struct Bf16Emulation;
template <>
struct Bf16Emulation<4> {
  // x86/conv3x3_winograd_f32_avx512.cpp's Wino<4>::bt, one lane.
  static void bt(const float* d, float* o) {
    o[0] = std::fma(-5.0f, d[2], std::fma(4.0f, d[0], d[4]));
    const float t1 = std::fma(-4.0f, d[2], d[4]), t2 = std::fma(-4.0f, d[1], d[3]);
    o[1] = t1 + t2;
    o[2] = t1 - t2;
    const float t3 = d[4] - d[2], t4 = d[3] - d[1];
    o[3] = std::fma(2.0f, t4, t3);
    o[4] = std::fma(-2.0f, t4, t3);
    o[5] = std::fma(-5.0f, d[3], std::fma(4.0f, d[1], d[5]));
  }
  static constexpr double kAt[4][6] = {
      {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};
template <>
struct Bf16Emulation<6> {
  // Wino<6>::bt, one lane.
  static void bt(const float* d, float* o) {
    o[0] = std::fma(5.25f, d[4] - d[2], d[0] - d[6]);
    o[7] = std::fma(5.25f, d[3] - d[5], d[7] - d[1]);
    const float e1 = std::fma(-4.25f, d[4], d[2] + d[6]), o1 = std::fma(-4.25f, d[3], d[1] + d[5]);
    o[1] = e1 + o1;
    o[2] = e1 - o1;
    const float e2 = std::fma(-1.25f, d[4], std::fma(0.25f, d[2], d[6]));
    const float o2 = std::fma(2.0f, d[5], std::fma(-2.5f, d[3], 0.5f * d[1]));
    o[3] = e2 + o2;
    o[4] = e2 - o2;
    const float e3 = std::fma(-5.0f, d[4], std::fma(4.0f, d[2], d[6]));
    const float o3 = std::fma(0.5f, d[5], std::fma(-2.5f, d[3], 2.0f * d[1]));
    o[5] = e3 + o3;
    o[6] = e3 - o3;
  }
  static constexpr double kAt[6][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                       {0, 1, -1, 2, -2, 0.5, -0.5, 0},
                                       {0, 1, 1, 4, 4, 0.25, 0.25, 0},
                                       {0, 1, -1, 8, -8, 0.125, -0.125, 0},
                                       {0, 1, 1, 16, 16, 0.0625, 0.0625, 0},
                                       {0, 1, -1, 32, -32, 0.03125, -0.03125, 1}};
};

// out[o][y][x] (no bias) as the bfloat16 kernel computes it, up to the rounding of its sums.
template <int M>
std::vector<double> emulate_bf16_winograd(const PackedWinogradOc8Bf16& pw, const std::vector<float>& x, int h, int w) {
  constexpr int T = M + 2;
  using E = Bf16Emulation<M>;
  const int ic = pw.ic, oc = pw.oc;
  std::vector<double> out(std::size_t(oc) * h * w, 0.0);
  std::vector<double> v(std::size_t(ic) * T * T);
  for (int ty = 0; ty < h; ty += M)
    for (int tx = 0; tx < w; tx += M) {
      for (int c = 0; c < ic; ++c) {
        float rows[T][T], col[T], vt[T];
        for (int r = 0; r < T; ++r) {  // rows first, as the kernel: each patch row's 1D transform
          float d[8];
          for (int k = 0; k < 8; ++k) {
            const int yy = ty - 1 + r, xx = tx - 1 + k;
            d[k] = yy >= 0 && yy < h && xx >= 0 && xx < w ? x[(std::size_t(c) * h + yy) * w + xx] : 0.0f;
          }
          E::bt(d, rows[r]);
        }
        for (int j = 0; j < T; ++j) {  // then each column's
          for (int r = 0; r < T; ++r) col[r] = rows[r][j];
          E::bt(col, vt);
          for (int i = 0; i < T; ++i) v[(std::size_t(c) * T + i) * T + j] = bf16_to_float(float_to_bf16(vt[i]));
        }
      }
      for (int o = 0; o < oc; ++o) {
        double m[T][T];
        for (int i = 0; i < T; ++i)
          for (int j = 0; j < T; ++j) {
            double acc = 0.0;
            for (int c = 0; c < ic; ++c) acc += double(pw.at(i * T + j, o, c)) * v[(std::size_t(c) * T + i) * T + j];
            m[i][j] = acc;
          }
        for (int p = 0; p < M; ++p)
          for (int q = 0; q < M; ++q) {
            if (ty + p >= h || tx + q >= w) continue;
            double acc = 0.0;
            for (int i = 0; i < T; ++i)
              for (int j = 0; j < T; ++j) acc += E::kAt[p][i] * m[i][j] * E::kAt[q][j];
            out[(std::size_t(o) * h + ty + p) * w + tx + q] = acc;
          }
      }
    }
  return out;
}

TEST(Conv3x3Winograd, Bf16KernelsMatchAnEmulationOfTheirArithmetic) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "cpu lacks avx512_bf16";
  struct Shape {
    int ic, oc, h, w;
  };
  for (const Shape sh : {Shape{1, 8, 5, 7}, Shape{5, 7, 13, 11}, Shape{17, 16, 37, 29}, Shape{64, 24, 20, 50},
                         Shape{193, 16, 9, 13}, Shape{200, 9, 14, 14}}) {
    std::mt19937 rng(41u + sh.ic);
    const std::vector<float> x = random_vec(std::size_t(sh.ic) * sh.h * sh.w, 0.0f, 1.0f, rng);
    const float ws = 1.5f / std::sqrt(9.0f * sh.ic);
    const std::vector<float> wt = random_vec(std::size_t(sh.oc) * sh.ic * 9, -ws, ws, rng);
    const PaddedGeometry geo{sh.h, sh.w};
    AlignedBuffer in_buf(geo.floats(sh.ic)), out_buf(geo.floats(sh.oc));
    PaddedPlanes in{in_buf.data(), sh.ic, geo}, out{out_buf.data(), sh.oc, geo};
    fill_planes(in, 0, x, sh.ic, 0.0f);
    for (const int m : {4, 6}) {
      const PackedWinogradOc8Bf16 pw = pack_conv3x3_winograd_oc8_bf16(wt.data(), sh.oc, sh.ic, m);
      if (m == 4) conv3x3_winograd43_bf16_avx512(pw, in, out, {});
      if (m == 6) conv3x3_winograd63_bf16_avx512(pw, in, out, {});
      const std::vector<double> want =
          m == 4 ? emulate_bf16_winograd<4>(pw, x, sh.h, sh.w) : emulate_bf16_winograd<6>(pw, x, sh.h, sh.w);
      const std::vector<double> exact = conv_ref(x, wt, sh.ic, sh.oc, sh.h, sh.w);
      double peak = 0.0, err = 0.0, err_exact = 0.0;
      for (int o = 0; o < sh.oc; ++o)
        for (int y = 0; y < sh.h; ++y)
          for (int xx = 0; xx < sh.w; ++xx) {
            const std::size_t k = (std::size_t(o) * sh.h + y) * sh.w + xx;
            const double got = out.plane(o)[(y + 1) * geo.pitch() + xx + 1];
            peak = std::max(peak, std::fabs(want[k]));
            err = std::max(err, std::fabs(got - want[k]));
            err_exact = std::max(err_exact, std::fabs(got - exact[k]));
          }
      std::printf("[ bf16 emulation ] F(%d,3) ic %d oc %d %dx%d: max err %.2e of peak vs emulation, %.2e vs fp32\n", m,
                  sh.ic, sh.oc, sh.h, sh.w, err / peak, err_exact / peak);
      SCOPED_TRACE("F(" + std::to_string(m) + ",3) ic " + std::to_string(sh.ic) + " oc " + std::to_string(sh.oc));
      EXPECT_LE(err, 1e-4 * peak) << "peak " << peak;
      if (sh.ic >= 8) {
        EXPECT_GT(err_exact, 10.0 * err);  // the emulation is of bfloat16, not of fp32
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
