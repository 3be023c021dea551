// INT8 conv3x3 kernels (vnni512, ymm vnni, avx2, generic) vs the naive reference ref::conv2d_int8 for many channel
// counts and odd sizes, symmetric and asymmetric activations, every epilogue (in-place residual and output into a
// channel slice included); the ring/slack invariant; the kernels agreeing bit for bit; the input quantizers giving
// the same bytes (NaN, infinities, ties), per tensor and per channel; the requantizing variants with per-channel
// output divisors; the weight packing; and INT8 staying within the quantization error bound of fp32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/ref/kernels.h"
#include "conv_test_support.h"

namespace resr::cpu {
namespace {

using test::fill_planes;
using test::max_abs_scales;
using test::random_vec;

enum class Epi { kPlain, kBias, kLeaky, kPrelu, kResidual02, kResidual10, kResidualInPlace };
enum class Impl { kVnni512, kYmmVnni, kAvx2, kGeneric };

// conv3x3_int8_avxvnni in the encoding this CPU runs: VEX (AVX-VNNI) where it can, else the same instructions in
// their AVX-512 encoding.
VnniEncoding ymm_vnni_encoding() {
  return cpu_has_avx_vnni() ? VnniEncoding::kVex : VnniEncoding::kEvex;
}
constexpr Epi kAllEpi[] = {Epi::kPlain,      Epi::kBias,       Epi::kLeaky,          Epi::kPrelu,
                           Epi::kResidual02, Epi::kResidual10, Epi::kResidualInPlace};

// A byte buffer with the 64-byte alignment the kernels expect.
struct Bytes {
  AlignedBuffer buf;
  explicit Bytes(std::size_t n) : buf((n + 3) / 4) {}
  std::uint8_t* data() { return reinterpret_cast<std::uint8_t*>(buf.data()); }
};

// Inputs, weights, quantization and the reference conv (no bias / activation) of one shape.
struct Int8Case {
  int ic = 0, oc = 0, h = 0, w = 0;
  std::vector<float> in, wt, bias, slopes, res;
  ir::ConvQuant quant;
  Tensor raw;  // ref::conv2d_int8 without bias and activation: the dequantized sums
};

U8Quant u8_quant(const ir::ConvQuant& q) {
  return q.asymmetric ? U8Quant::asymmetric(q.in_scale, q.in_zero) : U8Quant::symmetric(q.in_scale);
}

Int8Case make_case(int ic, int oc, int h, int w, bool asym) {
  std::mt19937 rng(99u + ic * 7 + oc * 13 + h * 17 + w * 19 + (asym ? 5 : 0));
  const float wscale = 1.7f / std::sqrt(float(ic * 9));
  Int8Case c;
  c.ic = ic;
  c.oc = oc;
  c.h = h;
  c.w = w;
  c.in = random_vec(std::size_t(ic) * h * w, -1.0f, 1.0f, rng);
  c.wt = random_vec(std::size_t(oc) * ic * 9, -wscale, wscale, rng);
  c.bias = random_vec(oc, -0.5f, 0.5f, rng);
  c.slopes = random_vec(oc, 0.0f, 0.5f, rng);
  c.res = random_vec(std::size_t(oc) * h * w, -1.0f, 1.0f, rng);
  c.quant.precision = ir::Precision::kInt8;
  c.quant.asymmetric = asym;
  // Ranges a little narrower than the data's, so that clamping is exercised too.
  if (asym) {
    c.quant.in_scale = 1.6f / 255.0f;
    c.quant.in_zero = 96;  // represents [-0.6, 1.0]
  } else {
    c.quant.in_scale = 0.8f / 127.0f;
  }
  c.quant.weight_scales = max_abs_scales(c.wt, oc);
  Tensor t(ic, h, w);
  std::copy(c.in.begin(), c.in.end(), t.data());
  ir::ConvParams p;
  p.in_channels = ic;
  p.out_channels = oc;
  c.raw = ref::conv2d_int8(t, p, c.quant, c.wt, {});
  return c;
}

ConvEpilogue make_epilogue(Epi epi, const Int8Case& c) {
  ConvEpilogue ep;
  if (epi != Epi::kPlain) ep.bias = c.bias.data();
  if (epi == Epi::kLeaky || epi == Epi::kResidual02 || epi == Epi::kResidualInPlace) {
    ep.act = Activation::kLeakyRelu;
    ep.leaky_slope = 0.2f;
  }
  if (epi == Epi::kPrelu || epi == Epi::kResidual10) {
    ep.act = Activation::kPrelu;
    ep.prelu_slopes = c.slopes.data();
  }
  if (epi == Epi::kResidual02 || epi == Epi::kResidualInPlace) ep.out_scale = 0.2f;
  if (epi == Epi::kResidual02 || epi == Epi::kResidual10 || epi == Epi::kResidualInPlace)
    ep.residual_scale = epi == Epi::kResidual02 ? 1.0f : 0.5f;
  return ep;
}

// out = out_scale * act(raw + bias) + rs * residual, in double.
double expected(const Int8Case& c, const ConvEpilogue& ep, bool has_res, int o, std::size_t p) {
  const std::size_t k = std::size_t(o) * c.h * c.w + p;
  double s = double(c.raw.data()[k]) + (ep.bias != nullptr ? ep.bias[o] : 0.0);
  if (ep.act == Activation::kLeakyRelu && s < 0) s *= ep.leaky_slope;
  if (ep.act == Activation::kPrelu && s < 0) s *= ep.prelu_slopes[o];
  s *= ep.out_scale;
  if (has_res) s += double(ep.residual_scale) * c.res[k];
  return s;
}

// Runs one kernel with one epilogue into the slice [2, 2 + oc) of a garbage-filled buffer and checks the result,
// the ring/slack zeros and the untouched neighbours. Returns the slice's floats.
std::vector<float> run_and_check(Impl impl, Epi epi, const Int8Case& c, const PackedConv3x3Int8& pw,
                                 const QuantizedPlanes& q) {
  const int oc = c.oc, h = c.h, w = c.w;
  const PaddedGeometry geo{h, w};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ConvEpilogue ep = make_epilogue(epi, c);
  const bool has_res = epi == Epi::kResidual02 || epi == Epi::kResidual10 || epi == Epi::kResidualInPlace;

  constexpr int kFirst = 2;
  const int total = oc + 5;
  AlignedBuffer out_buf(geo.floats(total));
  PaddedPlanes big{out_buf.data(), total, geo};
  std::fill(out_buf.data(), out_buf.data() + geo.floats(total), 777.0f);
  PaddedPlanes out = big.slice(kFirst, oc);
  AlignedBuffer res_buf(geo.floats(oc));
  PaddedPlanes res{res_buf.data(), oc, geo};
  if (epi == Epi::kResidualInPlace) {
    fill_planes(big, kFirst, c.res, oc, 0.0f);
    ep.residual = &out;
  } else if (has_res) {
    fill_planes(res, 0, c.res, oc, nan);
    ep.residual = &res;
  }

  if (impl == Impl::kVnni512)
    conv3x3_int8_vnni512(pw, q, out, ep);
  else if (impl == Impl::kYmmVnni)
    conv3x3_int8_avxvnni(pw, q, out, ep, ymm_vnni_encoding());
  else if (impl == Impl::kAvx2)
    conv3x3_int8_avx2(pw, widen_conv3x3_int8_pairs(pw), q, out, ep);
  else
    conv3x3_int8_generic(pw, q, out, ep);

  const test::PlaneScan scan = test::scan_output(out, oc, [&](int o, std::size_t idx, float v) {
    const double e = expected(c, ep, has_res, o, idx - std::size_t(o) * h * w);
    return std::fabs(double(v) - e) / (1.0 + std::fabs(e));
  });
  // float(sum) * float(scale) vs the double reference: a few float roundings of outputs of magnitude ~1.
  EXPECT_LE(scan.max_err, 2e-6) << "epilogue " << int(epi);
  EXPECT_EQ(scan.bad_ring, 0) << "ring/slack floats not zero, epilogue " << int(epi);
  EXPECT_EQ(test::touched_outside(big, kFirst, oc, 777.0f), 0) << "wrote outside the output slice";
  return std::vector<float>(out.plane(0), out.plane(0) + geo.floats(oc));
}

// One kernel's requantizing variant.
void run_requant(Impl impl, const PackedConv3x3Int8& pw, const QuantizedPlanes& q, const ConvEpilogue& ep,
                 const QuantizedPlanes& qout, VnniEncoding enc) {
  if (impl == Impl::kVnni512)
    conv3x3_int8_vnni512(pw, q, ep, qout);
  else if (impl == Impl::kYmmVnni)
    conv3x3_int8_avxvnni(pw, q, ep, qout, enc);
  else if (impl == Impl::kAvx2)
    conv3x3_int8_avx2(pw, widen_conv3x3_int8_pairs(pw), q, ep, qout);
  else
    conv3x3_int8_generic(pw, q, ep, qout);
}

// The requantizing variant, quantizing with `uq` (in encoding `enc` for the ymm VNNI kernel), gives the bytes of
// quantizing the fp32 result `f32` (fp32 output planes of the same epilogue) with the generic quantizer.
void check_requant(Impl impl, Epi epi, const Int8Case& c, const PackedConv3x3Int8& pw, const QuantizedPlanes& q,
                   std::vector<float>& f32, const U8Quant& uq, VnniEncoding enc = ymm_vnni_encoding()) {
  const PaddedGeometry geo{c.h, c.w};
  ConvEpilogue ep = make_epilogue(epi, c);
  AlignedBuffer res_buf(geo.floats(c.oc));
  PaddedPlanes res{res_buf.data(), c.oc, geo};
  if (epi == Epi::kResidual02 || epi == Epi::kResidual10) {
    fill_planes(res, 0, c.res, c.oc, 0.0f);
    ep.residual = &res;
  }
  const std::size_t bytes = QuantizedPlanes::bytes(geo, c.oc);
  Bytes want(bytes), got(bytes);
  std::memset(got.data(), 0x5A, bytes);
  quantize_planes_u8_generic(PaddedPlanes{f32.data(), c.oc, geo}, QuantizedPlanes{want.data(), c.oc, geo, uq});
  run_requant(impl, pw, q, ep, QuantizedPlanes{got.data(), c.oc, geo, uq}, enc);
  EXPECT_EQ(std::memcmp(want.data(), got.data(), bytes), 0)
      << "requantized output differs, epilogue " << int(epi) << (uq.channel_scales != nullptr ? ", per channel" : "");
}

// The other symmetry than the input's, and a scale that clips some outputs.
U8Quant requant_quant(const Int8Case& c) {
  return c.quant.asymmetric ? U8Quant::symmetric(0.011f) : U8Quant::asymmetric(0.013f, 100);
}

// Distinct, uneven per-channel output divisors around the scales above (some clip, some leave most codes small).
std::vector<float> requant_divisors(int oc) {
  std::vector<float> d(oc);
  for (int o = 0; o < oc; ++o) d[o] = 0.003f * (1.0f + 0.31f * float((o * 7) % 23)) + 1e-5f * float(o);
  return d;
}

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::kVnni512:
      return "vnni512";
    case Impl::kYmmVnni:
      return "ymmvnni";
    case Impl::kAvx2:
      return "avx2";
    default:
      return "generic";
  }
}

struct Shape {
  int ic, oc, h, w;
};
using Param = std::tuple<Shape, bool, Impl>;  // shape, asymmetric, kernel

class Conv3x3Int8Test : public ::testing::TestWithParam<Param> {};

TEST_P(Conv3x3Int8Test, MatchesReference) {
  const auto [s, asym, impl] = GetParam();
  if (impl == Impl::kVnni512 && !cpu_has_avx512_vnni()) GTEST_SKIP() << "cpu lacks AVX-512 VNNI";
  if (impl == Impl::kAvx2 && !cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks AVX2";
  if (impl == Impl::kYmmVnni && !cpu_has_avx_vnni() && !cpu_has_avx512_vnni())
    GTEST_SKIP() << "cpu lacks AVX-VNNI and AVX-512 VNNI";
  const Int8Case c = make_case(s.ic, s.oc, s.h, s.w, asym);
  const PaddedGeometry geo{s.h, s.w};
  AlignedBuffer in_buf(geo.floats(s.ic));
  PaddedPlanes in{in_buf.data(), s.ic, geo};
  fill_planes(in, 0, c.in, s.ic, std::numeric_limits<float>::quiet_NaN());  // input slack may hold anything
  Bytes qbuf(QuantizedPlanes::bytes(geo, s.ic));
  const QuantizedPlanes q{qbuf.data(), s.ic, geo, u8_quant(c.quant)};
  quantize_planes_u8_generic(in, q);
  const PackedConv3x3Int8 pw = pack_conv3x3_int8(c.wt.data(), c.quant.weight_scales.data(), s.oc, s.ic);

  // Larger shapes (the small ones cover every epilogue): the two that exercise the most (per-channel slopes,
  // in-place residual).
  const bool large = std::size_t(s.h) * s.w > 1000;
  for (Epi epi : kAllEpi) {
    if (large && epi != Epi::kPrelu && epi != Epi::kResidualInPlace) continue;
    std::vector<float> got = run_and_check(impl, epi, c, pw, q);
    if (epi != Epi::kResidualInPlace) check_requant(impl, epi, c, pw, q, got, requant_quant(c));
    if (impl != Impl::kGeneric) {  // exact integer sums and the same float epilogue: identical bits
      const std::vector<float> gen = run_and_check(Impl::kGeneric, epi, c, pw, q);
      EXPECT_EQ(std::memcmp(got.data(), gen.data(), got.size() * sizeof(float)), 0)
          << impl_name(impl) << " and generic differ, epilogue " << int(epi);
    }
  }
}

// Per-channel output divisors: each kernel's requantizing variant gives the bytes of the generic kernel's fp32
// output quantized by the generic per-channel quantizer (the ymm VNNI kernel in each encoding the CPU runs).
TEST_P(Conv3x3Int8Test, RequantizesPerChannel) {
  const auto [s, asym, impl] = GetParam();
  if (impl == Impl::kVnni512 && !cpu_has_avx512_vnni()) GTEST_SKIP() << "cpu lacks AVX-512 VNNI";
  if (impl == Impl::kAvx2 && !cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks AVX2";
  std::vector<VnniEncoding> encodings{VnniEncoding::kVex};  // ignored by the other kernels
  if (impl == Impl::kYmmVnni) {
    encodings.clear();
    if (cpu_has_avx_vnni()) encodings.push_back(VnniEncoding::kVex);
    if (cpu_has_avx512_vnni()) encodings.push_back(VnniEncoding::kEvex);
    if (encodings.empty()) GTEST_SKIP() << "cpu lacks AVX-VNNI and AVX-512 VNNI";
  }
  const Int8Case c = make_case(s.ic, s.oc, s.h, s.w, asym);
  const PaddedGeometry geo{s.h, s.w};
  AlignedBuffer in_buf(geo.floats(s.ic));
  PaddedPlanes in{in_buf.data(), s.ic, geo};
  fill_planes(in, 0, c.in, s.ic, std::numeric_limits<float>::quiet_NaN());
  Bytes qbuf(QuantizedPlanes::bytes(geo, s.ic));
  const QuantizedPlanes q{qbuf.data(), s.ic, geo, u8_quant(c.quant)};
  quantize_planes_u8_generic(in, q);
  const PackedConv3x3Int8 pw = pack_conv3x3_int8(c.wt.data(), c.quant.weight_scales.data(), s.oc, s.ic);
  const std::vector<float> divisors = requant_divisors(s.oc);
  const U8Quant uq = U8Quant::per_channel(0.011f, divisors.data());

  const bool large = std::size_t(s.h) * s.w > 1000;
  for (Epi epi : kAllEpi) {
    if (epi == Epi::kResidualInPlace || (large && epi != Epi::kPrelu && epi != Epi::kResidual10)) continue;
    std::vector<float> f32 = run_and_check(Impl::kGeneric, epi, c, pw, q);
    for (VnniEncoding enc : encodings) check_requant(impl, epi, c, pw, q, f32, uq, enc);
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto [s, asym, impl] = info.param;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s_ic%d_oc%d_%dx%d_%s", impl_name(impl), s.ic, s.oc, s.h, s.w, asym ? "asym" : "sym");
  return buf;
}

std::vector<Shape> small_shapes() {
  std::vector<Shape> v;
  for (int ic : {3, 4, 5, 32, 64, 96, 192})
    for (int oc : {3, 16, 32, 48, 64}) v.push_back({ic, oc, 7, 5});
  // Partial output blocks of every kind (the ymm kernels take 4-output halves of the 8-output packing) and 1 or 2
  // input channels.
  for (int oc : {1, 2, 5, 7, 13}) v.push_back({6, oc, 7, 5});
  for (int ic : {1, 2}) v.push_back({ic, 9, 7, 5});
  for (int ic : {3, 5, 64, 192}) v.push_back({ic, 16, 1, 1});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Small, Conv3x3Int8Test,
                         ::testing::Combine(::testing::ValuesIn(small_shapes()), ::testing::Bool(),
                                            ::testing::Values(Impl::kVnni512, Impl::kYmmVnni, Impl::kAvx2,
                                                              Impl::kGeneric)),
                         param_name);

INSTANTIATE_TEST_SUITE_P(
    Odd, Conv3x3Int8Test,
    ::testing::Combine(::testing::Values(Shape{3, 64, 37, 29}, Shape{5, 16, 37, 29}, Shape{64, 64, 37, 29},
                                         Shape{96, 32, 37, 29}, Shape{192, 48, 13, 11}, Shape{4, 3, 37, 29},
                                         Shape{32, 64, 2, 3}, Shape{64, 32, 5, 70}, Shape{192, 32, 23, 19}),
                       ::testing::Bool(),
                       ::testing::Values(Impl::kVnni512, Impl::kYmmVnni, Impl::kAvx2, Impl::kGeneric)),
    param_name);

// Many tiles per thread.
INSTANTIATE_TEST_SUITE_P(Large, Conv3x3Int8Test,
                         ::testing::Combine(::testing::Values(Shape{64, 64, 64, 64}), ::testing::Values(false),
                                            ::testing::Values(Impl::kVnni512, Impl::kYmmVnni, Impl::kAvx2,
                                                              Impl::kGeneric)),
                         param_name);

TEST(Conv3x3Int8, EmptyIsNoOp) {
  const std::vector<float> wt(9 * 2 * 2, 0.5f), scales(2, 0.01f);
  const PackedConv3x3Int8 p = pack_conv3x3_int8(wt.data(), scales.data(), 2, 2);
  const PaddedGeometry geo{0, 5};
  AlignedBuffer a(geo.floats(2)), b(geo.floats(2));
  Bytes qb(QuantizedPlanes::bytes(geo, 2));
  const QuantizedPlanes q{qb.data(), 2, geo, U8Quant::symmetric(0.1f)};
  quantize_planes_u8_generic({a.data(), 2, geo}, q);
  conv3x3_int8_generic(p, q, {b.data(), 2, geo}, {});
  if (cpu_has_avx512_vnni()) conv3x3_int8_vnni512(p, q, {b.data(), 2, geo}, {});
  if (cpu_has_avx2_fma()) conv3x3_int8_avx2(p, widen_conv3x3_int8_pairs(p), q, {b.data(), 2, geo}, {});
  if (cpu_has_avx_vnni() || cpu_has_avx512_vnni())
    conv3x3_int8_avxvnni(p, q, {b.data(), 2, geo}, {}, ymm_vnni_encoding());
}

TEST(Conv3x3Int8Pack, LayoutScalesAndSums) {
  const int oc = 11, ic = 6;
  std::vector<float> wt(std::size_t(oc) * ic * 9);
  std::vector<float> scales(oc);
  for (int o = 0; o < oc; ++o) scales[o] = 0.0078125f * float(o + 1);  // 2^-7: exact ties below
  for (std::size_t k = 0; k < wt.size(); ++k) wt[k] = scales[k / (ic * 9)] * (float(int(k % 301)) - 150.0f) * 0.9f;
  wt[5] = scales[0] * 2.5f;   // tie: rounds to even (2)
  wt[6] = -scales[0] * 3.5f;  // tie: rounds to even (-4)
  const PackedConv3x3Int8 p = pack_conv3x3_int8(wt.data(), scales.data(), oc, ic);
  ASSERT_EQ(p.oc_blocks(), 2);
  ASSERT_EQ(p.groups(), 2);
  EXPECT_EQ(p.at(0, 0, 5), 2);
  EXPECT_EQ(p.at(0, 0, 6), -4);
  for (int o = 0; o < oc; ++o) {
    EXPECT_EQ(p.scales[o], scales[o]);
    int sum = 0;
    for (int i = 0; i < ic; ++i)
      for (int t = 0; t < 9; ++t) {
        const float v = std::clamp(std::nearbyint(wt[(o * ic + i) * 9 + t] / scales[o]), -127.0f, 127.0f);
        EXPECT_EQ(p.at(o, i, t), int(v));
        sum += int(v);
      }
    EXPECT_EQ(p.sums[o], sum);
  }
  // Padding: outputs 11..15 and inputs 6, 7 are zero.
  for (int o = 0; o < 16; ++o)
    for (int i = 0; i < 8; ++i)
      for (int t = 0; t < 9; ++t)
        if (o >= oc || i >= ic) {
          const std::size_t k = (((std::size_t(o / 8) * 2 + i / 4) * 9 + t) * 8 + o % 8) * 4 + i % 4;
          EXPECT_EQ(p.weights()[k], 0);
        }
  // The AVX2 kernel's int16 pairs: blocks of 4 outputs, even inputs (4g, 4g+2) then odd ones, padding 0.
  const PackedInt8Pairs pairs = widen_conv3x3_int8_pairs(p);
  ASSERT_EQ(pairs.oc_blocks(), 3);
  int wrong = 0;
  for (int o = 0; o < 12; ++o)
    for (int i = 0; i < 8; ++i)
      for (int t = 0; t < 9; ++t) {
        const std::size_t k = (((std::size_t(o / 4) * 2 + i / 4) * 9 + t) * 4 + o % 4) * 2 + i % 2;
        const auto half = std::int16_t(std::uint32_t(pairs.words()[k]) >> (16 * ((i % 4) / 2)));
        wrong += half != (o < oc && i < ic ? p.at(o, i, t) : 0);
      }
  EXPECT_EQ(wrong, 0);
}

// Both quantizers against the formula, byte for byte, including specials, ties, the ring and the slack.
class QuantizeU8Test : public ::testing::TestWithParam<bool> {};

TEST_P(QuantizeU8Test, GenericMatchesFormulaAndSimd) {
  const bool asym = GetParam();
  const int ic = 7, h = 9, w = 21;
  std::mt19937 rng(7);
  std::vector<float> chw = random_vec(std::size_t(ic) * h * w, -1.5f, 1.5f, rng);
  const float s = 0.0078125f;  // 2^-7: k.5 * s are exact ties
  const U8Quant uq = asym ? U8Quant::asymmetric(s, 70) : U8Quant::symmetric(s);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            inf,
                            -inf,
                            1e30f,
                            -1e30f,
                            0.5f * s,
                            1.5f * s,
                            -2.5f * s,
                            0.0f,
                            -0.0f,
                            127 * s,
                            -127 * s,
                            127.5f * s,
                            -0.7f,
                            0.5f,
                            3e-39f};
  for (std::size_t k = 0; k < std::size(specials); ++k) chw[k * 13] = specials[k];
  const PaddedGeometry geo{h, w};
  AlignedBuffer in_buf(geo.floats(ic));
  PaddedPlanes in{in_buf.data(), ic, geo};
  fill_planes(in, 0, chw, ic, std::numeric_limits<float>::quiet_NaN());
  Bytes a(QuantizedPlanes::bytes(geo, ic)), b(QuantizedPlanes::bytes(geo, ic));
  std::memset(a.data(), 0xAB, QuantizedPlanes::bytes(geo, ic));
  std::memset(b.data(), 0xCD, QuantizedPlanes::bytes(geo, ic));
  const QuantizedPlanes qa{a.data(), ic, geo, uq}, qb{b.data(), ic, geo, uq};
  quantize_planes_u8_generic(in, qa);

  const int pitch = geo.pitch();
  int bad = 0;
  for (int g = 0; g < qa.groups(); ++g) {
    for (std::size_t pos = 0; pos < qa.group_stride() / 4; ++pos) {
      for (int k = 0; k < 4; ++k) {
        const int ch = 4 * g + k;
        const int y = int(pos) / pitch, x = int(pos) % pitch;
        int want = uq.zero;  // ring, slack
        if (ch >= ic) {
          want = 0;
        } else if (pos < std::size_t(h + 2) * pitch && y >= 1 && y <= h && x >= 1 && x <= w) {
          const float v = chw[(std::size_t(ch) * h + y - 1) * w + x - 1];
          const float r = std::isnan(v) ? float(uq.qmin)
                                        : std::clamp(std::nearbyint(v / uq.scale) + uq.zero, float(uq.qmin), 255.0f);
          want = int(r);
        }
        bad += qa.group(g)[pos * 4 + k] != want;
      }
    }
  }
  EXPECT_EQ(bad, 0);
  // Ties round to even: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2 (specials 5, 6, 7 at chw[65], [78], [91]: channel 0).
  auto byte_at = [&](int idx) { return int(qa.group(0)[((idx / w + 1) * pitch + idx % w + 1) * 4]); };
  EXPECT_EQ(byte_at(65), uq.zero);
  EXPECT_EQ(byte_at(78), uq.zero + 2);
  EXPECT_EQ(byte_at(91), uq.zero - 2);
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks AVX2: only the generic quantizer checked";
  quantize_planes_u8_avx2(in, qb);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), QuantizedPlanes::bytes(geo, ic)), 0) << "avx2 quantizer differs";
  if (!cpu_has_avx512f()) GTEST_SKIP() << "cpu lacks AVX-512F: the avx512 quantizer not checked";
  std::memset(b.data(), 0xCD, QuantizedPlanes::bytes(geo, ic));
  quantize_planes_u8_avx512(in, qb);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), QuantizedPlanes::bytes(geo, ic)), 0) << "avx512 quantizer differs";
}

INSTANTIATE_TEST_SUITE_P(All, QuantizeU8Test, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "asym" : "sym"; });

enum class Quantizer { kGeneric, kAvx2, kAvx512 };

const char* quantizer_name(Quantizer k) {
  return k == Quantizer::kAvx512 ? "avx512" : k == Quantizer::kAvx2 ? "avx2" : "generic";
}

// Whether the CPU runs quantizer k; runs it.
bool quantizer_available(Quantizer k) {
  return k == Quantizer::kGeneric || (k == Quantizer::kAvx2 && cpu_has_avx2_fma()) ||
         (k == Quantizer::kAvx512 && cpu_has_avx512f());
}

void quantize_with(Quantizer k, const PaddedPlanes& in, const QuantizedPlanes& out) {
  if (k == Quantizer::kAvx512)
    quantize_planes_u8_avx512(in, out);
  else if (k == Quantizer::kAvx2)
    quantize_planes_u8_avx2(in, out);
  else
    quantize_planes_u8_generic(in, out);
}

// Per-channel divisors (U8Quant::per_channel, taken through from_channel as for a channel slice): each quantizer
// against the per-element formula, byte for byte, with exact .5 ties, clamping, specials, the ring, the slack and
// the padding channels.
using PerChannelParam = std::tuple<int, Quantizer>;  // channels, quantizer
class QuantizeU8PerChannelTest : public ::testing::TestWithParam<PerChannelParam> {};

TEST_P(QuantizeU8PerChannelTest, MatchesFormula) {
  const auto [ch, k] = GetParam();
  if (!quantizer_available(k)) GTEST_SKIP() << "cpu lacks " << quantizer_name(k);
  const int h = 5, w = 19, first = 3;  // pitch 21: a partial vector per row for both SIMD widths
  // Distinct divisors for channels first .. first + ch - 1: dyadic (2c + 1) * 2^-10 (so (n + 0.5) * d is an exact
  // tie), every third one times 1.0737 (not dyadic).
  std::vector<float> all(first + ch + 2, 1e9f);  // entries outside the slice would give 128 everywhere
  for (int c = 0; c < ch; ++c) all[first + c] = float(2 * c + 1) * 0.0009765625f * (c % 3 == 2 ? 1.0737f : 1.0f);
  const float* d = all.data() + first;
  std::mt19937 rng(31u + ch);
  std::uniform_int_distribution<int> code(-140, 140);
  std::uniform_real_distribution<float> frac(-0.49f, 0.49f);
  std::vector<float> chw(std::size_t(ch) * h * w);
  for (std::size_t i = 0; i < chw.size(); ++i) {
    const float dc = d[i / (h * w)];
    // One value in three an exact tie (n + 0.5) * d; the others n + frac, some past the clamp range.
    chw[i] = i % 3 == 0 ? (float(code(rng)) + 0.5f) * dc : (float(code(rng)) + frac(rng)) * dc;
  }
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), inf, -inf, 0.5f * d[0], -0.5f * d[0], -0.0f};
  for (std::size_t i = 0; i < std::size(specials); ++i) chw[i * 7] = specials[i];
  const PaddedGeometry geo{h, w};
  AlignedBuffer in_buf(geo.floats(ch));
  PaddedPlanes in{in_buf.data(), ch, geo};
  fill_planes(in, 0, chw, ch, std::numeric_limits<float>::quiet_NaN());
  const std::size_t bytes = QuantizedPlanes::bytes(geo, ch);
  Bytes got(bytes);
  std::memset(got.data(), 0xAB, bytes);
  const U8Quant uq = U8Quant::per_channel(0.01f, all.data()).from_channel(first);
  const QuantizedPlanes q{got.data(), ch, geo, uq};
  quantize_with(k, in, q);

  const int pitch = geo.pitch();
  int bad = 0, ties = 0;
  for (int g = 0; g < q.groups(); ++g) {
    for (std::size_t pos = 0; pos < q.group_stride() / 4; ++pos) {
      for (int b = 0; b < 4; ++b) {
        const int c = 4 * g + b;
        const int y = int(pos) / pitch, x = int(pos) % pitch;
        int want = 128;  // ring, slack
        if (c >= ch) {
          want = 0;
        } else if (pos < std::size_t(h + 2) * pitch && y >= 1 && y <= h && x >= 1 && x <= w) {
          const float v = chw[(std::size_t(c) * h + y - 1) * w + x - 1];
          const float r = v / d[c];
          ties += r - std::floor(r) == 0.5f;
          want = std::isnan(r) ? 1 : int(std::clamp(std::nearbyint(r) + 128.0f, 1.0f, 255.0f));
        }
        bad += q.group(g)[pos * 4 + b] != want;
      }
    }
  }
  EXPECT_EQ(bad, 0) << quantizer_name(k) << ", " << ch << " channels";
  EXPECT_GT(ties, ch * h * w / 8) << "too few exact ties exercised";
  // 0.5 * d[0] and -0.5 * d[0] round to even (0): the zero point (specials 3, 4 at chw[21], chw[28]: channel 0).
  auto byte_at = [&](int idx) { return int(q.group(0)[((idx / w + 1) * pitch + idx % w + 1) * 4]); };
  EXPECT_EQ(byte_at(21), 128);
  EXPECT_EQ(byte_at(28), 128);
}

INSTANTIATE_TEST_SUITE_P(All, QuantizeU8PerChannelTest,
                         ::testing::Combine(::testing::Values(1, 3, 4, 5, 13, 64),
                                            ::testing::Values(Quantizer::kGeneric, Quantizer::kAvx2,
                                                              Quantizer::kAvx512)),
                         [](const ::testing::TestParamInfo<PerChannelParam>& i) {
                           return std::string(quantizer_name(std::get<1>(i.param))) + "_c" +
                                  std::to_string(std::get<0>(i.param));
                         });

// A per-channel U8Quant whose divisors all equal `scale` is the per-tensor one: the same bytes from every quantizer
// and every kernel's requantizing variant.
TEST(QuantizeU8PerChannel, EqualDivisorsMatchPerTensor) {
  const Int8Case c = make_case(13, 11, 6, 23, false);
  const PaddedGeometry geo{c.h, c.w};
  const float s = 0.0078125f;  // 2^-7: ties in the input
  const std::vector<float> same_in(c.ic, s);
  AlignedBuffer in_buf(geo.floats(c.ic));
  PaddedPlanes in{in_buf.data(), c.ic, geo};
  std::vector<float> chw = c.in;
  for (std::size_t i = 0; i < chw.size(); i += 5) chw[i] = (float(int(i % 200) - 100) + 0.5f) * s;
  fill_planes(in, 0, chw, c.ic, std::numeric_limits<float>::quiet_NaN());
  const std::size_t in_bytes = QuantizedPlanes::bytes(geo, c.ic);
  Bytes tensor(in_bytes), channel(in_bytes);
  for (Quantizer k : {Quantizer::kGeneric, Quantizer::kAvx2, Quantizer::kAvx512}) {
    if (!quantizer_available(k)) continue;
    std::memset(tensor.data(), 0x11, in_bytes);
    std::memset(channel.data(), 0x22, in_bytes);
    quantize_with(k, in, {tensor.data(), c.ic, geo, U8Quant::symmetric(s)});
    quantize_with(k, in, {channel.data(), c.ic, geo, U8Quant::per_channel(s, same_in.data())});
    EXPECT_EQ(std::memcmp(tensor.data(), channel.data(), in_bytes), 0) << quantizer_name(k);
  }

  const QuantizedPlanes q{tensor.data(), c.ic, geo, U8Quant::symmetric(s)};
  quantize_planes_u8_generic(in, q);
  const PackedConv3x3Int8 pw = pack_conv3x3_int8(c.wt.data(), c.quant.weight_scales.data(), c.oc, c.ic);
  const ConvEpilogue ep = make_epilogue(Epi::kPrelu, c);
  const float so = 0.009f;
  const std::vector<float> same_out(c.oc, so);
  const std::size_t out_bytes = QuantizedPlanes::bytes(geo, c.oc);
  Bytes a(out_bytes), b(out_bytes);
  for (Impl impl : {Impl::kVnni512, Impl::kYmmVnni, Impl::kAvx2, Impl::kGeneric}) {
    if ((impl == Impl::kVnni512 && !cpu_has_avx512_vnni()) || (impl == Impl::kAvx2 && !cpu_has_avx2_fma()) ||
        (impl == Impl::kYmmVnni && !cpu_has_avx_vnni() && !cpu_has_avx512_vnni()))
      continue;
    std::memset(a.data(), 0x33, out_bytes);
    std::memset(b.data(), 0x44, out_bytes);
    run_requant(impl, pw, q, ep, {a.data(), c.oc, geo, U8Quant::symmetric(so)}, ymm_vnni_encoding());
    run_requant(impl, pw, q, ep, {b.data(), c.oc, geo, U8Quant::per_channel(so, same_out.data())}, ymm_vnni_encoding());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), out_bytes), 0) << impl_name(impl);
  }
}

// INT8 vs fp32 on the same data: every output within the worst-case bound of rounding x and w to their grids
// (sum over taps of |x| * ws / 2 + |w^| * s / 2, inputs inside the clamp range), and a small relative RMS error.
TEST(Conv3x3Int8, WithinQuantizationErrorOfFp32) {
  const int ic = 64, oc = 32, h = 16, w = 16;
  std::mt19937 rng(3);
  std::vector<float> in = random_vec(std::size_t(ic) * h * w, 0.0f, 1.0f, rng);
  std::vector<float> wt = random_vec(std::size_t(oc) * ic * 9, -0.08f, 0.08f, rng);
  ir::ConvQuant q;
  q.precision = ir::Precision::kInt8;
  q.in_scale = 1.0f / 127.0f;
  q.weight_scales = max_abs_scales(wt, oc);
  ir::ConvParams p;
  p.in_channels = ic;
  p.out_channels = oc;
  Tensor t(ic, h, w);
  std::copy(in.begin(), in.end(), t.data());
  const Tensor f = ref::conv2d(t, p, wt, {});
  const Tensor i8 = ref::conv2d_int8(t, p, q, wt, {});

  // The fast kernel gives the reference's numbers (checked above); here through the generic path once more.
  const PaddedGeometry geo{h, w};
  AlignedBuffer in_buf(geo.floats(ic)), out_buf(geo.floats(oc));
  fill_planes({in_buf.data(), ic, geo}, 0, in, ic, 0.0f);
  Bytes qb(QuantizedPlanes::bytes(geo, ic));
  const QuantizedPlanes qp{qb.data(), ic, geo, U8Quant::symmetric(q.in_scale)};
  quantize_planes_u8_generic({in_buf.data(), ic, geo}, qp);
  conv3x3_int8_generic(pack_conv3x3_int8(wt.data(), q.weight_scales.data(), oc, ic), qp, {out_buf.data(), oc, geo}, {});

  double err2 = 0, ref2 = 0;
  int over = 0;
  for (int o = 0; o < oc; ++o)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        double bound = 0;
        for (int i = 0; i < ic; ++i)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = y + ky - 1, ix = x + kx - 1;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const double wv = wt[((std::size_t(o) * ic + i) * 3 + ky) * 3 + kx];
              bound += std::fabs(in[(std::size_t(i) * h + iy) * w + ix]) * q.weight_scales[o] / 2 +
                       (std::fabs(wv) + q.weight_scales[o] / 2) * q.in_scale / 2;
            }
        const double d = double(i8.at(o, y, x)) - f.at(o, y, x);
        over += std::fabs(d) > bound * 1.0001 + 1e-6;
        err2 += d * d;
        ref2 += double(f.at(o, y, x)) * f.at(o, y, x);
        const float fast = out_buf.data()[std::size_t(o) * geo.plane_stride() + (y + 1) * geo.pitch() + x + 1];
        EXPECT_NEAR(fast, i8.at(o, y, x), 2e-6 * (1 + std::fabs(i8.at(o, y, x))));
      }
  EXPECT_EQ(over, 0) << "outputs outside the worst-case quantization error bound";
  EXPECT_LT(std::sqrt(err2 / ref2), 0.01) << "relative RMS error of INT8 vs fp32";
}

}  // namespace
}  // namespace resr::cpu
