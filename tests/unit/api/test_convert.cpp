// The public conversion API: calibrate on sample images, convert to INT8 / FP16 / ncnn, upscale with the result,
// and refuse bad requests before any work, writing nothing.
#include <gtest/gtest.h>

#include <resr/convert.h>
#include <resr/resr.h>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "convert/model_convert.h"
#include "image/codec.h"
#include "support/paths.h"
#include "support/slurp.h"
#include "support/temp_dir.h"

namespace resr {
namespace {
namespace fs = std::filesystem;

// --scale-migration's text (and the API's): the named modes, or a whole number in (0, 1]; nothing else.
TEST(ScaleMigrationText, NamesModesOrAStrengthInZeroToOne) {
  using Mode = conversion::ScaleMigration::Mode;
  const auto mode = [](const std::string& text) { return conversion::parse_scale_migration(text)->mode; };
  EXPECT_EQ(mode(""), Mode::kDefault);
  EXPECT_EQ(mode("auto"), Mode::kMeasured);
  EXPECT_EQ(mode("estimate"), Mode::kEstimated);
  for (const auto& [text, strength] : {std::pair<std::string, float>{"1", 1.0f}, {"0.75", 0.75f}, {"1e-1", 0.1f}}) {
    const std::optional<conversion::ScaleMigration> m = conversion::parse_scale_migration(text);
    ASSERT_TRUE(m.has_value()) << text;
    EXPECT_EQ(m->mode, Mode::kFixed) << text;
    EXPECT_FLOAT_EQ(m->strength, strength) << text;
  }
  for (const std::string bad :
       {"0", "-1", "-2", "1.01", "0.5x", " 0.5", "+0.5", "0,75", "0x0.8p0", "nan", "inf", "Auto", "estimated", "x"})
    EXPECT_FALSE(conversion::parse_scale_migration(bad).has_value()) << bad;
}

class ConvertApi : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.path() / "photos");
    for (const char* name : {"x4fast_37x29.in.png", "x4plus_23x19.in.png"})
      fs::copy_file(test::data_path(name), tmp_.path() / "photos" / name);
  }
  std::string path(const std::string& name) const { return (tmp_.path() / name).string(); }
  CalibrationOptions calibration() const {
    CalibrationOptions c;
    c.model = "x4fast";
    c.model_dir = test::model_dir();
    c.images = path("photos");
    c.output = path("x4fast.calib");
    c.tiles = 6;
    c.tile = 16;
    return c;
  }
  static double psnr(const Image& a, const Image& b) {
    double se = 0;
    for (std::size_t i = 0; i < a.bytes.size(); ++i) se += std::pow(double(a.bytes[i]) - double(b.bytes[i]), 2);
    return 10 * std::log10(255.0 * 255.0 / (se / double(a.bytes.size())));
  }
  Image upscaled_with(const std::string& model_path) const {
    UpscalerOptions o;
    o.model_path = model_path;
    auto up = Upscaler::create(o);
    EXPECT_TRUE(up.ok()) << up.status().message();
    auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
    auto out = up->upscale(*img);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return *out;
  }

  test::ScopedTempDir tmp_{"resr_convert_api_"};
};

TEST_F(ConvertApi, CalibratesConvertsAndTheResultUpscales) {
  int last_done = 0, last_total = 0;
  auto table = calibrate(calibration(), [&](int done, int total) {
    last_done = done;
    last_total = total;
    return true;
  });
  ASSERT_TRUE(table.ok()) << table.status().message();
  EXPECT_EQ(table->images_used, 2);
  EXPECT_EQ(table->tiles, 6);
  EXPECT_EQ(last_done, 6);
  EXPECT_EQ(last_total, 6);
  EXPECT_GT(table->tensors, 30);  // one range per conv input of x4fast's 34 convs
  ASSERT_TRUE(fs::exists(path("x4fast.calib")));

  ConvertOptions v;
  v.model = "x4fast";
  v.model_dir = test::model_dir();
  v.output = path("x4fast.int8.resr");
  v.precision = "int8";
  v.calib = path("x4fast.calib");
  auto int8 = convert(v);
  ASSERT_TRUE(int8.ok()) << int8.status().message();
  EXPECT_EQ(int8->files, v.output);
  EXPECT_GT(int8->convs_int8, 30);
  EXPECT_GT(int8->quantized_share, 0.9);
  EXPECT_EQ(int8->bytes, fs::file_size(v.output));
  // "estimate": the migration strength estimated per group of convs (--scale-migration estimate); the same convs
  // in INT8, other factors than the default strength's for some (so other bytes).
  v.output = path("x4fast.int8e.resr");
  v.scale_migration = "estimate";
  auto estimated = convert(v);
  ASSERT_TRUE(estimated.ok()) << estimated.status().message();
  EXPECT_EQ(estimated->convs_int8, int8->convs_int8);
  EXPECT_NE(test::slurp(path("x4fast.int8e.resr")), test::slurp(path("x4fast.int8.resr")));
  v.scale_migration = "-2";  // the old sentinel, now refused by name
  auto refused = convert(v);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--scale-migration must be auto, estimate or in (0, 1], got '-2'"),
            std::string::npos)
      << refused.status().message();
  v.scale_migration = std::string(1, '\x01');  // e.g. a float assigned to the string: a char
  refused = convert(v);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("got '\\x01'"), std::string::npos) << refused.status().message();
  v.scale_migration = "";

  v.output = path("x4fast.fp32.resr");
  v.precision = "";
  v.calib = "";
  auto fp32 = convert(v);
  ASSERT_TRUE(fp32.ok()) << fp32.status().message();
  EXPECT_EQ(fp32->convs_int8, 0);
  EXPECT_EQ(fp32->quantized_share, 0);

  // The INT8 file runs, close to FP32 (x4fast tolerates INT8 well: 38 dB on unseen photos, docs/quantization.md).
  const Image reference = upscaled_with(path("x4fast.fp32.resr"));
  const Image quantized = upscaled_with(path("x4fast.int8.resr"));
  ASSERT_EQ(reference.bytes.size(), quantized.bytes.size());
  const double db = psnr(reference, quantized);
  EXPECT_GT(db, 30.0);
  EXPECT_LT(db, 99.0) << "the INT8 model should not be the FP32 one";

  v.output = path("x4fast_fp32.param");  // ncnn, with fp32 and then fp16 weights
  auto ncnn32 = convert(v);
  ASSERT_TRUE(ncnn32.ok()) << ncnn32.status().message();
  v.output = path("x4fast_fp16.param");
  v.storage = "fp16";
  auto ncnn16 = convert(v);
  ASSERT_TRUE(ncnn16.ok()) << ncnn16.status().message();
  EXPECT_NE(ncnn16->files.find("x4fast_fp16.bin"), std::string::npos) << ncnn16->files;
  EXPECT_EQ(ncnn16->bytes, fs::file_size(path("x4fast_fp16.bin")));
  EXPECT_LT(double(ncnn16->bytes), 0.6 * double(ncnn32->bytes));  // conv weights at half the size
}

TEST_F(ConvertApi, AStopFromTheCallbackWritesNothing) {
  int calls = 0;
  auto table = calibrate(calibration(), [&](int, int) { return ++calls < 2; });
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().message(), "calibration interrupted");
  EXPECT_TRUE(table.status().is_stopped());  // it was an error
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(fs::exists(path("x4fast.calib")));
  ASSERT_TRUE(calibrate(calibration()).ok());
  ConvertOptions v;  // a precision search, stopped at its first line
  v.model = "x4fast";
  v.model_dir = test::model_dir();
  v.output = path("x4fast.int8.resr");
  v.precision = "int8";
  v.calib = path("x4fast.calib");
  v.images = path("photos");
  v.target_psnr = 60;
  v.search_tiles = 2;
  v.search_tile = 16;
  auto converted = convert(v, [](const std::string&) { return false; });
  ASSERT_FALSE(converted.ok());
  EXPECT_TRUE(converted.status().is_stopped()) << converted.status().message();
  EXPECT_FALSE(fs::exists(path("x4fast.int8.resr")));
}

TEST_F(ConvertApi, BadRequestsAreRefusedBeforeAnyWork) {
  ConvertOptions v;
  v.model = "x4fast";
  v.model_dir = test::model_dir();
  v.output = path("a.resr");
  v.precision = "int8";  // without a table
  auto r = convert(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("needs --calib"), std::string::npos) << r.status().message();
  v.precision = "int4";
  r = convert(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown --precision 'int4'"), std::string::npos) << r.status().message();
  v.precision = "fp16";
  v.model = "no_such_model";
  r = convert(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no_such_model"), std::string::npos) << r.status().message();
  EXPECT_FALSE(fs::exists(path("a.resr")));

  CalibrationOptions c = calibration();
  c.images = path("none");
  auto t = calibrate(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("none: no such file or folder"), std::string::npos) << t.status().message();
  c = calibration();
  c.method = "median";
  EXPECT_FALSE(calibrate(c).ok());
  c = calibration();
  c.percentile = 0;
  EXPECT_FALSE(calibrate(c).ok());
  c = calibration();
  c.output = path("photos");  // a folder
  t = calibrate(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("is a folder"), std::string::npos) << t.status().message();
  // Files that do not exist are named before the model loads.
  v = ConvertOptions{};
  v.model = "x4fast";
  v.model_dir = test::model_dir();
  v.output = path("a.resr");
  v.precision = "int8";
  v.calib = path("missing.calib");
  r = convert(v);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path("missing.calib") + ": no such file");
  v.output = path("no/such/folder/a.resr");
  v.precision = "fp16";
  v.calib = "";
  r = convert(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot write (no folder"), std::string::npos) << r.status().message();
  c = calibration();
  c.output = path("photos");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("is a folder"), std::string::npos) << t.status().message();
  EXPECT_FALSE(fs::exists(path("x4fast.calib")));
}

TEST_F(ConvertApi, UnreadableImagesAreWarningsNotFailures) {
  std::ofstream(tmp_.path() / "photos" / "broken.png") << "not a png";
  auto t = calibrate(calibration());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->images_used, 2);
  EXPECT_EQ(t->images_skipped, 1);
  ASSERT_EQ(t->warnings.size(), 1u);
  EXPECT_NE(t->warnings[0].find("broken.png"), std::string::npos) << t->warnings[0];
}

}  // namespace
}  // namespace resr
