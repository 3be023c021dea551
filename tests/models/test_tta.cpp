// Test-time augmentation (engine/tta.h): the 8 orientations and their inverses on small tensors, the average of a
// stand-in model, and engine::upscale_image with tta on the real x4fast model: close to the plain output, and
// the same (to float rounding) for a rotated input as the rotated output, which the plain model is not.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "engine/backend_factory.h"
#include "engine/model_loader.h"
#include "engine/tta.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "support/paths.h"

namespace resr::engine {
namespace {

Tensor ramp(int c, int h, int w) {
  Tensor t(c, h, w);
  for (std::size_t i = 0; i < std::size_t(t.numel()); ++i) t.data()[i] = float(i);
  return t;
}

float at(const Tensor& t, int c, int y, int x) {
  return t.data()[(std::size_t(c) * t.h() + y) * t.w() + x];
}

TEST(Tta, OrientationsAreTheEightSymmetriesAndInvert) {
  const Tensor t = ramp(2, 3, 5);
  std::set<std::vector<float>> seen;
  for (int k = 0; k < kOrientations; ++k) {
    const Tensor o = orient(t, k);
    ASSERT_EQ(o.c(), 2);
    ASSERT_EQ(o.h(), k & 4 ? 5 : 3) << k;
    ASSERT_EQ(o.w(), k & 4 ? 3 : 5) << k;
    seen.insert(std::vector<float>(o.data(), o.data() + o.numel()));
    const Tensor back = unorient(o, k);
    ASSERT_EQ(back.h(), 3);
    ASSERT_EQ(back.w(), 5);
    EXPECT_EQ(std::vector<float>(back.data(), back.data() + back.numel()),
              std::vector<float>(t.data(), t.data() + t.numel()))
        << k;
  }
  EXPECT_EQ(seen.size(), 8u);  // all distinct
  // Spot checks of the documented order: bit 0 mirrors left-right, bit 1 top-bottom, bit 2 transposes first.
  EXPECT_EQ(at(orient(t, 1), 1, 0, 0), at(t, 1, 0, 4));
  EXPECT_EQ(at(orient(t, 2), 0, 0, 1), at(t, 0, 2, 1));
  EXPECT_EQ(at(orient(t, 4), 0, 4, 2), at(t, 0, 2, 4));
  EXPECT_EQ(at(orient(t, 5), 0, 0, 0), at(t, 0, 2, 0));  // transpose, then mirror: a rotation by 90 degrees
}

// A stand-in "model" that doubles the size (nearest) and adds a gradient along x: not orientation-invariant, so
// the average differs from a single run, and equals the mean of the 8 turned-back runs computed here.
Result<Tensor> gradient_model(const Tensor& x) {
  Tensor y(x.c(), 2 * x.h(), 2 * x.w());
  for (int c = 0; c < x.c(); ++c)
    for (int i = 0; i < y.h(); ++i)
      for (int j = 0; j < y.w(); ++j)
        y.data()[(std::size_t(c) * y.h() + i) * y.w() + j] = at(x, c, i / 2, j / 2) + 0.01f * float(j);
  return y;
}

TEST(Tta, AveragesTheTurnedBackRuns) {
  const Tensor x = ramp(3, 4, 6);
  Result<Tensor> got = run_with_tta(x, gradient_model);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->h(), 8);
  ASSERT_EQ(got->w(), 12);
  Tensor want(3, 8, 12);
  for (int k = 0; k < kOrientations; ++k) {
    const Tensor back = unorient(*gradient_model(orient(x, k)), k);
    for (std::size_t i = 0; i < std::size_t(want.numel()); ++i) want.data()[i] += back.data()[i] / 8;
  }
  double worst = 0;
  for (std::size_t i = 0; i < std::size_t(want.numel()); ++i)
    worst = std::max(worst, double(std::fabs(want.data()[i] - got->data()[i])));
  EXPECT_LT(worst, 1e-4);
  // The gradient's orientation-dependent part averages out: a flat input gives a flat output.
  Tensor flat(1, 3, 3);
  Result<Tensor> f = run_with_tta(flat, gradient_model);
  ASSERT_TRUE(f.ok());
  for (std::size_t i = 1; i < std::size_t(f->numel()); ++i) EXPECT_NEAR(f->data()[i], f->data()[0], 1e-6);
  // Transposed orientations first: the same mean, summed in another order.
  Result<Tensor> other = run_with_tta(x, gradient_model, /*transposed_first=*/true);
  ASSERT_TRUE(other.ok());
  for (std::size_t i = 0; i < std::size_t(want.numel()); ++i) EXPECT_NEAR(other->data()[i], got->data()[i], 1e-4);
  // Errors of the model come back as they are.
  Result<Tensor> e = run_with_tta(x, [](const Tensor&) -> Result<Tensor> { return Status::error("boom"); });
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "boom");
}

Image rotate90(const Image& in) {  // clockwise
  Image out = in;
  out.width = in.height;
  out.height = in.width;
  const int ch = in.channels;
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < ch; ++c)
        out.bytes[(std::size_t(y) * out.width + x) * ch + c] =
            in.bytes[(std::size_t(in.height - 1 - x) * in.width + y) * ch + c];
  return out;
}

int max_diff(const Image& a, const Image& b) {
  int worst = 0;
  for (std::size_t i = 0; i < a.bytes.size(); ++i) worst = std::max(worst, std::abs(int(a.bytes[i]) - int(b.bytes[i])));
  return worst;
}

TEST(Tta, UpscaleWithTtaIsCloseToPlainAndOrientationInvariant) {
  auto m = load_model({test::model_dir(), "x4fast"});
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto compiled = CompiledModel::compile(*m, "cpu");
  ASSERT_TRUE(compiled.ok());
  auto in = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(in.ok());
  UpscaleSettings plain, tta;
  tta.tta = true;
  tta.tile = 16;  // several tiles, each its own 8 runs
  auto a = upscale_image(*in, *compiled, plain), b = upscale_image(*in, *compiled, tta);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(b->width, 148);
  ASSERT_EQ(b->height, 116);
  double se = 0;
  for (std::size_t i = 0; i < a->bytes.size(); ++i) se += std::pow(double(a->bytes[i]) - double(b->bytes[i]), 2);
  const double psnr = 10 * std::log10(255.0 * 255.0 / (se / double(a->bytes.size())));
  EXPECT_GT(psnr, 30.0);   // the same picture
  EXPECT_LT(psnr, 200.0);  // but not the same bytes: the runs were averaged
  // Rotating the input rotates the TTA output (the 8 runs are the same set), but not the plain one. (Whole-image
  // tiles here; x4fast's tiles with its default context equal the whole image.)
  tta.tile = 0;
  auto br = upscale_image(rotate90(*in), *compiled, tta);
  auto ar = upscale_image(rotate90(*in), *compiled, plain);
  ASSERT_TRUE(br.ok() && ar.ok());
  EXPECT_LE(max_diff(*br, rotate90(*b)), 1);
  EXPECT_GT(max_diff(*ar, rotate90(*a)), 1);
}

// A model whose input must be a multiple of 2 (x2 through pixel-unshuffle) on an RGBA image of odd sizes, tiled:
// the transposed tiles are padded in their own frame, alpha goes through the model too, and the result is
// still the rotation of the rotated input's.
TEST(Tta, InputMultipleModelWithAlphaAndTiles) {
  auto m = load_model({test::data_path("fixtures/rrdb_x2.pth"), ""});
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->summary.input_multiple, 2);
  auto compiled = CompiledModel::compile(*m, "cpu");
  ASSERT_TRUE(compiled.ok());
  auto rgb = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(rgb.ok());
  Image in = *rgb;
  in.channels = 4;
  in.bytes.resize(in.sample_count());
  for (std::size_t p = 0; p < std::size_t(in.width) * in.height; ++p) {
    for (int c = 0; c < 3; ++c) in.bytes[p * 4 + c] = rgb->bytes[p * 3 + c];
    in.bytes[p * 4 + 3] = std::uint8_t(40 + (p * 7) % 200);
  }
  UpscaleSettings tta;
  tta.tta = true;
  tta.tile = 15;
  auto a = upscale_image(in, *compiled, tta);
  auto b = upscale_image(rotate90(in), *compiled, tta);
  ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.status().message() : a.status().message());
  ASSERT_EQ(a->width, 74);
  ASSERT_EQ(a->height, 58);
  ASSERT_EQ(a->channels, 4);
  EXPECT_LE(max_diff(*b, rotate90(*a)), 2);
}

}  // namespace
}  // namespace resr::engine
