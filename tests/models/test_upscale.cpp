// engine::upscale_image with the real x4fast model on small images: tiles equal the whole image, every
// scale, 16-bit kept at 16 bits, gray and alpha layouts, transparent edges not darkened.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/backend_factory.h"
#include "engine/host_memory.h"
#include "engine/model_loader.h"
#include "engine/tile_io.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/resize.h"
#include "support/exif_blobs.h"
#include "support/paths.h"
#include "support/temp_dir.h"

namespace resr {
namespace {

class UpscaleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = engine::load_model({test::model_dir(), "x4fast"});
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = new engine::LoadedModel(std::move(*m));
    auto compiled = engine::CompiledModel::compile(*model_, "cpu");
    ASSERT_TRUE(compiled.ok());
    exe_ = new engine::CompiledModel(std::move(*compiled));
  }
  static void TearDownTestSuite() {
    delete exe_;
    delete model_;
  }

  static Image test_image(int bits = 8) {
    auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
    EXPECT_TRUE(img.ok());
    if (bits == 16) {  // widen to 16 bits with sub-8-bit detail, so rounding to 8 bits anywhere would show
      Image wide = *img;
      wide.bits = 16;
      wide.bytes.resize(img->sample_count() * 2);
      for (std::size_t i = 0; i < img->sample_count(); ++i) {
        const auto v = static_cast<std::uint16_t>(img->bytes[i] * 257 + (i % 97));
        std::memcpy(wide.bytes.data() + 2 * i, &v, 2);
      }
      return wide;
    }
    return *img;
  }

  static Result<Image> upscale(const Image& in, const engine::UpscaleSettings& s, engine::StageTimes* t = nullptr) {
    return engine::upscale_image(in, *exe_, s, t);
  }

  static double max_diff16(const Image& a, const Image& b) {
    double worst = 0;
    for (std::size_t i = 0; i < a.sample_count(); ++i)
      worst = std::max(worst, std::fabs(double(a.sample16(i)) - double(b.sample16(i))));
    return worst;
  }

  static inline engine::LoadedModel* model_ = nullptr;
  static inline engine::CompiledModel* exe_ = nullptr;
};

TEST_F(UpscaleTest, TiledEqualsWholeImageWithEnoughContext) {
  const Image in = test_image(16);
  engine::UpscaleSettings whole;
  whole.tile = 1000;
  auto expected = upscale(in, whole);
  ASSERT_TRUE(expected.ok());
  for (int tile : {13, 20}) {
    engine::UpscaleSettings tiled;
    tiled.tile = tile;  // default pad for x4fast = its receptive radius, 34
    engine::StageTimes times;
    auto got = upscale(in, tiled, &times);
    ASSERT_TRUE(got.ok());
    EXPECT_GT(times.tiles, 1);
    EXPECT_LE(max_diff16(*got, *expected), 1.0) << "tile " << tile;  // at most one 16-bit step
  }
  // Too little context shows at the seams: the comparison above can fail.
  engine::UpscaleSettings thin;
  thin.tile = 8;
  thin.tile_pad = 2;
  auto seams = upscale(in, thin);
  ASSERT_TRUE(seams.ok());
  EXPECT_GT(max_diff16(*seams, *expected), 100.0);
}

// Models that pixel-unshuffle their input (RRDBNet x2 by 2, x1 by 4): tiles of any size, automatic ones included,
// equal the whole image. Tiles used to start anywhere, so the unshuffle grouped their pixels unlike the whole
// image's (16-20 dB against it).
TEST(UpscaleUnshuffle, TiledEqualsWholeImage) {
  Image in;
  in.width = 151;
  in.height = 262;
  in.channels = 3;
  in.bits = 16;
  in.bytes.resize(in.sample_count() * 2);
  for (std::size_t i = 0; i < in.sample_count(); ++i) {
    const auto v = static_cast<std::uint16_t>((i * 2654435761u) >> 16);
    std::memcpy(in.bytes.data() + 2 * i, &v, 2);
  }
  for (const char* fixture : {"rrdb_x2.pth", "rrdb_x1.pth"}) {
    engine::ModelSource src;
    src.path = test::data_path(std::string("fixtures/") + fixture);
    auto model = engine::load_model(src);
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto compiled = engine::CompiledModel::compile(*model, "cpu");
    ASSERT_TRUE(compiled.ok()) << compiled.status().message();
    engine::UpscaleSettings whole;
    whole.tile = 1000;
    auto expected = engine::upscale_image(in, *compiled, whole);
    ASSERT_TRUE(expected.ok()) << expected.status().message();
    for (int tile : {19, 37, 0}) {
      engine::UpscaleSettings tiled;
      tiled.tile = tile;
      if (tile == 0) tiled.tile_memory_bytes = std::uint64_t{2} << 20;  // automatic: several tiles for both
      engine::StageTimes times;
      auto got = engine::upscale_image(in, *compiled, tiled, &times);
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_GT(times.tiles, 1) << fixture << " tile " << tile;
      double worst = 0;
      for (std::size_t i = 0; i < got->sample_count(); ++i)
        worst = std::max(worst, std::fabs(double(got->sample16(i)) - double(expected->sample16(i))));
      EXPECT_LE(worst, 1.0) << fixture << " tile " << tile;  // at most one 16-bit step
    }
  }
}

// A test fixture model (tests/data/fixtures) compiled for the CPU.
Result<engine::CompiledModel> compiled_fixture(const std::string& file) {
  engine::ModelSource src;
  src.path = test::data_path("fixtures/" + file);
  RESR_ASSIGN_OR_RETURN(engine::LoadedModel model, engine::load_model(src));
  return engine::CompiledModel::compile(model, "cpu");
}

// A 3x2 RGB image of one grey, for counting passes.
Image flat_rgb_3x2() {
  Image in;
  in.width = 3;
  in.height = 2;
  in.channels = 3;
  in.bits = 8;
  in.bytes.assign(in.sample_count(), 100);
  return in;
}

// An x1 model asked for a larger size runs once and is resized, as Real-ESRGAN's outscale does; passes of it
// could never enlarge (this was refused as "more than 4 passes of the x1 model").
TEST(UpscaleX1, LargerOutputIsOnePassThenAResize) {
  auto compiled = compiled_fixture("rrdb_x1.pth");
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  auto in = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(in.ok());
  engine::UpscaleSettings s;
  s.scale = 2;
  engine::StageTimes times;
  auto out = engine::upscale_image(*in, *compiled, s, &times);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 74);
  EXPECT_EQ(out->height, 58);
  EXPECT_EQ(times.passes, 1);
}

// An x2 model reaches the largest --scale, 64, in six passes (it was refused beyond four).
TEST(UpscaleX2, ScaleSixtyFourIsSixPasses) {
  auto compiled = compiled_fixture("srvgg_x2_relu.pth");
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  const Image in = flat_rgb_3x2();
  engine::UpscaleSettings s;
  s.scale = 64;
  engine::StageTimes times;
  auto out = engine::upscale_image(in, *compiled, s, &times);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 192);
  EXPECT_EQ(out->height, 128);
  EXPECT_EQ(times.passes, 6);
}

// An output of another shape (far wider than tall) stops the passes before they make more than m^2 times its own
// pixels: 3x2 to 1024x2 takes five passes of x2 (96x64) and the resize; it ran to the pass limit, or past what
// any of them could reach, making far more than the output only to throw it away.
TEST(UpscaleX2, AnOutputOfAnotherShapeStopsThePassesAtItsArea) {
  auto compiled = compiled_fixture("srvgg_x2_relu.pth");
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  const Image in = flat_rgb_3x2();
  engine::UpscaleSettings s;
  s.width = 1024;
  s.height = 2;
  engine::StageTimes times;
  auto out = engine::upscale_image(in, *compiled, s, &times);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 1024);
  EXPECT_EQ(out->height, 2);
  EXPECT_EQ(times.passes, 5);
}

// The CPU's pixel path (pixels into the input planes, the output window straight out of the output planes) gives
// the bytes of the tensor path: image_region_to_tensor, run, paste_tensor_region. Gray and RGB, 8 and 16 bits, a
// window inside the output.
TEST(CpuPixelPath, EqualsTheTensorPath) {
  auto m = engine::load_model({test::model_dir(), "x4fast"});
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto exe = engine::make_executable(m->graph, "cpu");
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  ASSERT_TRUE((*exe)->has_pixel_path());
  auto rgb = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(rgb.ok());
  for (const int channels : {1, 3})
    for (const int bits : {8, 16}) {
      Image in;  // the test image as gray (its first channel) or RGB, widened with sub-8-bit detail at 16 bits
      in.width = rgb->width;
      in.height = rgb->height;
      in.channels = channels;
      in.bits = bits;
      in.bytes.resize(in.sample_count() * std::size_t(bits / 8));
      for (std::size_t p = 0; p < std::size_t(in.width) * in.height; ++p)
        for (int c = 0; c < channels; ++c) {
          const std::size_t i = p * channels + c;
          const std::uint8_t v8 = rgb->bytes[p * 3 + c];
          if (bits == 8) {
            in.bytes[i] = v8;
          } else {
            const auto v = static_cast<std::uint16_t>(v8 * 257 + (i % 97));
            std::memcpy(in.bytes.data() + 2 * i, &v, 2);
          }
        }
      const tiling::Rect window{6, 5, 100, 90};  // of the 148x116 output
      Image want;
      want.width = window.w;
      want.height = window.h;
      want.channels = channels;
      want.bits = bits;
      want.bytes.assign(want.sample_count() * std::size_t(bits / 8), 0);
      Image got = want;
      auto out = (*exe)->run(engine::image_region_to_tensor(in, tiling::Rect{0, 0, in.width, in.height}));
      ASSERT_TRUE(out.ok()) << out.status().message();
      engine::paste_tensor_region(*out, nullptr, window, want, 0, 0);
      auto rows_of = [](auto& rows, auto* data, const Image& image) {  // the whole image as PixelRect / PixelWindow
        rows.data = data;
        rows.width = image.width;
        rows.height = image.height;
        rows.channels = image.channels;
        rows.bits = image.bits;
        rows.row_bytes = std::size_t(image.width) * image.channels * (image.bits / 8);
      };
      PixelRect src;
      rows_of(src, in.bytes.data(), in);
      PixelWindow dst;
      rows_of(dst, got.bytes.data(), got);
      PixelRunTimes times;
      ASSERT_TRUE((*exe)->run_pixels(src, window.x, window.y, dst, &times).ok());
      EXPECT_EQ(got.bytes, want.bytes) << channels << " channels, " << bits << " bits";
      dst.width = 200;  // past the output: refused, nothing written out of bounds
      EXPECT_FALSE((*exe)->run_pixels(src, window.x, window.y, dst, &times).ok());
    }
}

// EXIF carried from the input states the output's size (PixelXDimension / PixelYDimension), after any resize.
TEST_F(UpscaleTest, CarriedExifStatesTheOutputSize) {
  Image in = test_image();
  in.exif = testing::make_exif_with_size(false, std::uint32_t(in.width), std::uint32_t(in.height));
  engine::UpscaleSettings s;
  s.scale = 3;
  auto out = upscale(in, s);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->exif, testing::make_exif_with_size(false, std::uint32_t(out->width), std::uint32_t(out->height)));
  EXPECT_EQ(out->width, 3 * in.width);
}

TEST_F(UpscaleTest, SixteenBitStaysSixteenBit) {
  auto out = upscale(test_image(16), {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->bits, 16);
  std::size_t off_grid = 0;
  for (std::size_t i = 0; i < out->sample_count(); ++i) off_grid += out->sample16(i) % 257 != 0;
  EXPECT_GT(off_grid, out->sample_count() / 2) << "values look rounded to 8 bits";
}

TEST_F(UpscaleTest, AnyScaleGivesTheRequestedSize) {
  const Image in = test_image();
  for (double scale : {1.0, 2.0, 3.0, 3.5, 4.0, 8.0}) {
    engine::UpscaleSettings s;
    s.scale = scale;
    engine::StageTimes times;
    auto out = upscale(in, s, &times);
    ASSERT_TRUE(out.ok()) << scale;
    EXPECT_EQ(out->width, std::lround(37 * scale)) << scale;
    EXPECT_EQ(out->height, std::lround(29 * scale)) << scale;
    EXPECT_EQ(times.passes, scale > 4 ? 2 : 1) << scale;
  }
  engine::UpscaleSettings s;
  s.width = 100;
  auto out = upscale(in, s);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->width, 100);
  EXPECT_EQ(out->height, std::lround(29 * 100.0 / 37));
}

// An 8K frame upscaled 4x (30720x17280) is allowed, up to 2^30 pixels in all and 65536 per side; past that, one
// line naming the size and the limit, before any work.
TEST_F(UpscaleTest, OutputSizeLimitAdmits8kTimesFour) {
  const models::ModelSummary& m = exe_->summary();
  engine::UpscaleSettings s;
  auto eight_k = engine::output_size(7680, 4320, m, s);
  ASSERT_TRUE(eight_k.ok()) << eight_k.status().message();
  EXPECT_EQ(eight_k->first, 30720);
  EXPECT_EQ(eight_k->second, 17280);
  EXPECT_TRUE(engine::output_size(8192, 8192, m, s).ok());  // 2^30 exactly
  auto over = engine::output_size(8193, 8192, m, s);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().message(),
            "output size 32772x32768 (1073872896 pixels) exceeds the limit of 1073741824 pixels");
  // From a header, before decoding: the sides may yet swap (orientation 5..8), so only a size past the limits both
  // ways is refused; --width gives another shape turned.
  EXPECT_TRUE(engine::check_stored_size(8192, 8192, m, s).ok());
  EXPECT_EQ(engine::check_stored_size(8193, 8192, m, s).message(),
            "output size 32772x32768 (1073872896 pixels) exceeds the limit of 1073741824 pixels");
  engine::UpscaleSettings wide_width = s;
  wide_width.width = 60000;
  EXPECT_FALSE(engine::output_size(100, 20000, m, wide_width).ok());       // 60000x12000000
  EXPECT_TRUE(engine::check_stored_size(100, 20000, m, wide_width).ok());  // turned: 20000x100 -> 60000x300
  // A smaller output whose model output, before the resize, is past the limit is refused by output_size too (it was
  // refused only at the first frame of a video, after its encoder had opened).
  engine::UpscaleSettings half = s;
  half.scale = 0.5;
  EXPECT_TRUE(engine::output_size(8192, 8192, m, half).ok());
  EXPECT_EQ(engine::output_size(8193, 8192, m, half).status().message(),
            "intermediate size 32772x32768 (the model's output, before the resize to 4097x4096) exceeds the limit of "
            "1073741824 pixels");
  auto wide = engine::output_size(16385, 10, m, s);  // a side over 65536
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.status().message(), "output size 65540x40 exceeds the limit of 65536 pixels per side");
  Image tall;
  tall.width = 1;
  tall.height = 16385;
  tall.channels = 3;
  tall.bits = 8;
  tall.bytes.resize(tall.sample_count());
  auto refused = upscale(tall, s);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("output size 4x65540 exceeds the limit"), std::string::npos)
      << refused.status().message();
}

// Automatic tiles fit the budget with what the run holds beside the model (TTA's sum and oriented input, the RGB
// result while alpha runs): a budget the whole image fits in alone gets tiles once one such pair is held, each
// within the budget with it, and upscale_image holds one under TTA.
TEST_F(UpscaleTest, AutomaticTilesCountTheTensorsTtaAndAlphaHold) {
  const int w = 120, h = 90, pad = engine::default_tile_pad(exe_->summary());
  auto own = exe_->working_bytes(h, w);
  ASSERT_TRUE(own.ok());
  const std::uint64_t pair = std::uint64_t(w) * h * (1 + 16) * 3 * 4;  // RGB floats in and out (x4)
  ASSERT_LT(*own / 10, pair);                                          // a pair is more than the 10% margin
  const std::uint64_t budget = *own + *own / 10;
  auto alone = engine::auto_tile_grid(*exe_, w, h, pad, budget, 0);
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  EXPECT_GE(alone->tile_w, w);
  EXPECT_GE(alone->tile_h, h);
  auto held = engine::auto_tile_grid(*exe_, w, h, pad, budget, 1);
  ASSERT_TRUE(held.ok()) << held.status().message();
  EXPECT_LT(std::int64_t(held->tile_w) * held->tile_h, std::int64_t(w) * h);
  const int in_w = std::min(w, held->tile_w + 2 * pad), in_h = std::min(h, held->tile_h + 2 * pad);
  auto need = exe_->working_bytes(in_h, in_w);
  ASSERT_TRUE(need.ok());
  EXPECT_LE(*need + std::uint64_t(in_w) * in_h * (1 + 16) * 3 * 4, budget);

  Image in;
  in.width = w;
  in.height = h;
  in.channels = 3;
  in.bytes.resize(in.sample_count());
  for (std::size_t i = 0; i < in.bytes.size(); ++i) in.bytes[i] = std::uint8_t((i * 37) % 251);
  engine::UpscaleSettings s;
  s.tile_memory_bytes = budget;
  engine::StageTimes plain, tta;
  ASSERT_TRUE(upscale(in, s, &plain).ok());
  EXPECT_EQ(plain.tiles, 1);
  s.tta = true;
  ASSERT_TRUE(upscale(in, s, &tta).ok());
  EXPECT_GT(tta.tiles, 1);
}

// A budget not even the smallest tile fits in says what that tile needs, so the user knows what to give.
TEST_F(UpscaleTest, TooSmallABudgetNamesWhatTheSmallestTileNeeds) {
  const int pad = engine::default_tile_pad(exe_->summary());
  auto least = exe_->working_bytes(1 + 2 * pad, 1 + 2 * pad);
  ASSERT_TRUE(least.ok());
  const std::uint64_t budget = *least / 4;
  auto refused = engine::auto_tile_grid(*exe_, 500, 400, pad, budget);
  ASSERT_FALSE(refused.ok());
  const std::string says = refused.status().message();
  EXPECT_NE(
      says.find("no tile size fits the memory budget of " + std::to_string(budget >> 20) + " MiB: the smallest tile"),
      std::string::npos)
      << says;
  EXPECT_NE(says.find(" needs "), std::string::npos) << says;
  // 500 wide, at most 256 columns: the narrowest core is 2 pixels (it named a 1-pixel one no grid can have).
  EXPECT_NE(says.find("the smallest tile (" + std::to_string(2 + 2 * pad) + "x" + std::to_string(1 + 2 * pad)),
            std::string::npos)
      << says;
}

// A budget the whole image fits in gives a grid whose tile fits: the affine estimate overshoots near the minimum
// (x4plus on 37x29 in 16 MiB said "no tile size fits the memory budget", though the whole image fits).
TEST_F(UpscaleTest, ABudgetTheWholeImageFitsInGivesAGrid) {
  const int pad = engine::default_tile_pad(exe_->summary());
  for (const auto& [w, h] : {std::pair{37, 29}, std::pair{60, 44}}) {
    auto least = exe_->working_bytes(h, w);
    ASSERT_TRUE(least.ok());
    for (const std::uint64_t budget : {*least, *least + *least / 20}) {
      auto grid = engine::auto_tile_grid(*exe_, w, h, pad, budget);
      ASSERT_TRUE(grid.ok()) << w << "x" << h << " in " << budget << " bytes: " << grid.status().message();
      const int in_w = std::min(w, grid->tile_w + 2 * pad), in_h = std::min(h, grid->tile_h + 2 * pad);
      auto need = exe_->working_bytes(in_h, in_w);
      ASSERT_TRUE(need.ok());
      EXPECT_LE(*need, budget) << w << "x" << h;
    }
  }
}

// Work whose size the user sets is refused past half of what is available; unknown memory is not checked.
TEST(HostMemoryCheck, RefusesMoreThanHalfOfWhatIsAvailable) {
  constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
  EXPECT_TRUE(engine::check_host_memory(kGiB, 2 * kGiB, "x").ok());
  EXPECT_TRUE(engine::check_host_memory(100 * kGiB, 0, "x").ok());  // unknown: no check
  const Status s = engine::check_host_memory(3 * kGiB, 4 * kGiB, "a tile");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "a tile needs about 3.0 GiB, more than half of the 4.0 GiB available");
}

// The host budget: a quarter of the available memory within [512 MiB, 4 GiB], split between concurrent images,
// never below 256 MiB unless that is more than half of what is left; unknown memory gives the minimum. This
// machine's memory can be read.
TEST(HostTileBudget, QuarterOfAvailableWithinBoundsSharedByConcurrentImages) {
  constexpr std::uint64_t kMiB = 1 << 20;
  EXPECT_EQ(engine::host_tile_budget(0, 1), 512 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(1024 * kMiB, 1), 512 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(8192 * kMiB, 1), 2048 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(64 * 1024 * kMiB, 1), 4096 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(8192 * kMiB, 2), 1024 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(8192 * kMiB, 16), 256 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(8192 * kMiB, 0), 2048 * kMiB);
  // Little left: never more than half of it in all, the floors notwithstanding, down to 64 MiB each.
  EXPECT_EQ(engine::host_tile_budget(300 * kMiB, 1), 150 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(4096 * kMiB, 16), 128 * kMiB);
  EXPECT_EQ(engine::host_tile_budget(100 * kMiB, 1), 64 * kMiB);
  EXPECT_GT(engine::available_host_memory(), 64 * kMiB);
}

// The budget one image's tiles get: the user's as given; a GPU's split between the images run at once on it (two
// processing threads each sized their tiles from the same free memory) and capped at the host's under TTA; else
// the host's.
TEST(TileMemoryBudget, UsersElseGpusSharedByConcurrentImagesElseHosts) {
  constexpr std::uint64_t kMiB = 1 << 20;
  EXPECT_EQ(engine::tile_memory_budget(100 * kMiB, 512 * kMiB, 60000 * kMiB, false, 2), 100 * kMiB);
  EXPECT_EQ(engine::tile_memory_budget(0, 512 * kMiB, 0, false, 2), 512 * kMiB);
  EXPECT_EQ(engine::tile_memory_budget(0, 512 * kMiB, 60000 * kMiB, false, 1), 60000 * kMiB);
  EXPECT_EQ(engine::tile_memory_budget(0, 512 * kMiB, 60000 * kMiB, false, 2), 30000 * kMiB);
  EXPECT_EQ(engine::tile_memory_budget(0, 512 * kMiB, 60000 * kMiB, false, 0), 60000 * kMiB);
  EXPECT_EQ(engine::tile_memory_budget(0, 512 * kMiB, 60000 * kMiB, true, 2), 512 * kMiB);
  EXPECT_EQ(engine::tile_memory_budget(0, 512 * kMiB, 800 * kMiB, true, 2), 400 * kMiB);
}

// Cgroup limits from the process's own cgroup up to the root, v2 and v1 (a fake hierarchy): the least of what
// each level leaves, page cache counted as free; folders that are not there (a path seen from outside a
// container) and "max" count as unlimited.
TEST(HostTileBudget, CgroupLimitsFromTheOwnCgroupUpToTheRoot) {
  const test::ScopedTempDir tmp("resr_cgroup_");
  const std::filesystem::path& root = tmp.path();
  auto put = [&root](const std::string& file, const std::string& text) {
    std::filesystem::create_directories((root / file).parent_path());
    std::ofstream(root / file) << text;
  };
  put("a/memory.max", "1000000000\n");
  put("a/memory.current", "300000000\n");
  put("a/memory.stat", "anon 5\ninactive_file 100000000\nactive_file 7\n");
  put("a/b/memory.max", "max\n");
  put("a/b/memory.current", "200000000\n");
  const std::string r = root.string();
  EXPECT_EQ(engine::cgroup_memory_left(r, "0::/a/b\n"), 800000000u);  // a's limit binds b
  EXPECT_EQ(engine::cgroup_memory_left(r, "0::/\n"), 0u);             // the root has none
  put("memory/x/y/memory.limit_in_bytes", "500000000\n");
  put("memory/x/y/memory.usage_in_bytes", "100000000\n");
  put("memory/x/memory.limit_in_bytes", "9223372036854771712\n");  // v1's "no limit"
  EXPECT_EQ(engine::cgroup_memory_left(r, "4:memory:/x/y\n1:cpu,cpuacct:/z\n0::/a/b\n"), 400000000u);
  EXPECT_EQ(engine::cgroup_memory_left(r, "5:cpuacct,memory:/x/y/\n"), 400000000u);
  EXPECT_EQ(engine::cgroup_memory_left(r, "4:memory:/x\n"), 0u);
  // A container's own cgroup named by the host's path: only the root is there.
  put("memory.max", "2000000000\n");
  EXPECT_EQ(engine::cgroup_memory_left(r, "0::/docker/abc123\n"), 2000000000u);
  EXPECT_EQ(engine::cgroup_memory_left(r, ""), 2000000000u);  // no /proc/self/cgroup: the roots
  // A limit already used up is not "no limit".
  put("a/memory.current", "1500000000\n");
  EXPECT_EQ(engine::cgroup_memory_left(r, "0::/a\n"), 1u);
  EXPECT_EQ(engine::cgroup_memory_left(r, "garbage\n::\n"), 0u);
}

// The last pass goes to the resize a row of tiles at a time (RowResampler): the output is the model's whole output
// resized at once, sample for sample, with tiles in three rows, for RGB, alpha by the model, and gray. (16-bit input,
// whose x4 output is the 16-bit intermediate the resize reads.)
TEST_F(UpscaleTest, AResizeAsTheTilesComeEqualsTheWholeOutputResized) {
  const Image rgb = test_image(16);
  for (int channels : {3, 4, 1}) {
    Image in = rgb;  // gray from the red samples; alpha varying
    in.channels = channels;
    in.bytes.resize(std::size_t(rgb.width) * rgb.height * channels * 2);
    for (std::size_t p = 0; p < std::size_t(rgb.width) * rgb.height; ++p)
      for (int c = 0; c < channels; ++c) {
        const auto v = c < 3 ? rgb.sample16(p * 3 + std::size_t(c)) : std::uint16_t(20000 + 300 * (p % 97));
        std::memcpy(in.bytes.data() + (p * channels + std::size_t(c)) * 2, &v, 2);
      }
    engine::UpscaleSettings whole;
    whole.tile = 12;  // 37x29: three rows of four tiles
    auto model_out = upscale(in, whole);
    ASSERT_TRUE(model_out.ok()) << model_out.status().message();
    for (double scale : {3.0, 2.5, 1.0}) {
      engine::UpscaleSettings s = whole;
      s.scale = scale;
      engine::StageTimes times;
      auto out = upscale(in, s, &times);
      ASSERT_TRUE(out.ok()) << out.status().message();
      EXPECT_EQ(times.tiles, 12);
      const Image want = resize_image(*model_out, out->width, out->height, ResizeFilter::kLanczos3, 16);
      ASSERT_EQ(out->bytes, want.bytes) << channels << " channels, scale " << scale;
    }
  }
}

// --alpha bicubic streams too (it held the whole intermediate): the x4 output with its bicubic alpha, resized, with
// the alpha then bicubic from the original at the output's size, sample for sample.
TEST_F(UpscaleTest, BicubicAlphaAsTheTilesComeEqualsTheWholeOutputResized) {
  const Image rgb = test_image(16);
  Image in = rgb, alpha = rgb;
  in.channels = 4;
  alpha.channels = 1;
  in.bytes.resize(std::size_t(rgb.width) * rgb.height * 8);
  alpha.bytes.resize(std::size_t(rgb.width) * rgb.height * 2);
  for (std::size_t p = 0; p < std::size_t(rgb.width) * rgb.height; ++p) {
    std::memcpy(in.bytes.data() + p * 8, rgb.bytes.data() + p * 6, 6);
    const auto a = std::uint16_t(p % 7 == 0 ? 0 : 9000 + 500 * (p % 101));  // some fully transparent
    std::memcpy(in.bytes.data() + p * 8 + 6, &a, 2);
    std::memcpy(alpha.bytes.data() + p * 2, &a, 2);
  }
  engine::UpscaleSettings whole;
  whole.tile = 12;  // 37x29: three rows of four tiles
  whole.alpha = engine::AlphaMode::kBicubic;
  auto model_out = upscale(in, whole);
  ASSERT_TRUE(model_out.ok()) << model_out.status().message();
  for (double scale : {3.0, 2.5}) {
    engine::UpscaleSettings s = whole;
    s.scale = scale;
    auto out = upscale(in, s);
    ASSERT_TRUE(out.ok()) << out.status().message();
    Image want = resize_image(*model_out, out->width, out->height, ResizeFilter::kLanczos3, 16);
    const Image want_alpha = resize_image(alpha, out->width, out->height, ResizeFilter::kBicubic, 16);
    for (std::size_t p = 0; p < std::size_t(out->width) * out->height; ++p)
      std::memcpy(want.bytes.data() + p * 8 + 6, want_alpha.bytes.data() + p * 2, 2);
    ASSERT_EQ(out->bytes, want.bytes) << "scale " << scale;
  }
}

TEST_F(UpscaleTest, DownscaledOutputIsCloseToTheModelOutputResized) {
  // -s 2 is the x4 output resized by 1/2: compare against a box-filtered 4x output (smooth image, close).
  const Image in = test_image();
  engine::UpscaleSettings s2;
  s2.scale = 2;
  auto half = upscale(in, s2);
  auto full = upscale(in, {});
  ASSERT_TRUE(half.ok() && full.ok());
  double sum_sq = 0;
  for (int y = 0; y < half->height; ++y)
    for (int x = 0; x < half->width; ++x)
      for (int c = 0; c < 3; ++c) {
        double box = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) box += full->bytes[((2 * y + dy) * full->width + 2 * x + dx) * 3 + c];
        const double d = half->bytes[(y * half->width + x) * 3 + c] - box / 4;
        sum_sq += d * d;
      }
  const double psnr = 10 * std::log10(255.0 * 255.0 / (sum_sq / (half->width * half->height * 3)));
  EXPECT_GT(psnr, 30.0);
}

TEST_F(UpscaleTest, GrayAndAlphaLayoutsAreKept) {
  const Image rgb = test_image();
  for (int channels : {1, 2, 4}) {
    Image in = rgb;
    in.channels = channels;
    in.bytes.resize(std::size_t(in.width) * in.height * channels);
    for (std::size_t p = 0; p < std::size_t(in.width) * in.height; ++p)
      for (int c = 0; c < channels; ++c) in.bytes[p * channels + c] = rgb.bytes[p * 3 + std::min(c, 2)];
    for (auto mode : {engine::AlphaMode::kModel, engine::AlphaMode::kBicubic}) {
      engine::UpscaleSettings s;
      s.alpha = mode;
      auto out = upscale(in, s);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(out->channels, channels);
      EXPECT_EQ(out->width, 148);
    }
  }
}

// An opaque image with --alpha bicubic at a scale that needs a resize (2, 3) has the colours of the same image
// without alpha: the passes leave alpha zero, and the resize, which weights colour by alpha, made them all black.
TEST_F(UpscaleTest, BicubicAlphaKeepsTheColoursThroughAResize) {
  const Image rgb = test_image();
  Image rgba = rgb;
  rgba.channels = 4;
  rgba.bytes.resize(std::size_t(rgb.width) * rgb.height * 4);
  for (std::size_t p = 0; p < std::size_t(rgb.width) * rgb.height; ++p) {
    for (int c = 0; c < 3; ++c) rgba.bytes[p * 4 + c] = rgb.bytes[p * 3 + c];
    rgba.bytes[p * 4 + 3] = 255;
  }
  for (const double scale : {2.0, 3.0}) {
    engine::UpscaleSettings s;
    s.scale = scale;
    auto plain = upscale(rgb, s);
    s.alpha = engine::AlphaMode::kBicubic;
    auto with_alpha = upscale(rgba, s);
    ASSERT_TRUE(plain.ok() && with_alpha.ok());
    ASSERT_EQ(with_alpha->width, plain->width);
    int worst = 0;
    for (std::size_t p = 0; p < std::size_t(plain->width) * plain->height; ++p) {
      for (int c = 0; c < 3; ++c)
        worst = std::max(worst, std::abs(int(with_alpha->bytes[p * 4 + c]) - int(plain->bytes[p * 3 + c])));
      ASSERT_EQ(with_alpha->bytes[p * 4 + 3], 255) << p;
    }
    EXPECT_LE(worst, 1) << "scale " << scale;
  }
}

TEST_F(UpscaleTest, TransparentSurroundDoesNotDarkenEdges) {
  // An opaque orange square on fully transparent black: the visible colour at the square's edge must stay orange.
  Image in;
  in.width = in.height = 24;
  in.channels = 4;
  in.bytes.assign(24 * 24 * 4, 0);
  for (int y = 6; y < 18; ++y)
    for (int x = 6; x < 18; ++x) {
      std::uint8_t* p = &in.bytes[(y * 24 + x) * 4];
      p[0] = 240, p[1] = 140, p[2] = 20, p[3] = 255;
    }
  auto out = upscale(in, {});
  ASSERT_TRUE(out.ok());
  int darkest_red = 255;
  for (std::size_t i = 0; i < std::size_t(out->width) * out->height; ++i)
    if (out->bytes[i * 4 + 3] >= 128) darkest_red = std::min<int>(darkest_red, out->bytes[i * 4]);
  EXPECT_GE(darkest_red, 200) << "visible edge pixels darkened by the hidden black";
}

}  // namespace
}  // namespace resr
