// resr calibrate end to end on the small committed fixture models: a table every conv input is in, the same
// ranges for the same seed, and every kind of bad input refused with one line, a non-zero exit and no table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "image/codec.h"
#include "quant/calib_table.h"
#include "support/cli_run.h"
#include "support/paths.h"

namespace resr {
namespace {
namespace fs = std::filesystem;

class CliCalibrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_cli_calib_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "images");
    image("images/a.png", 3, 30, 20);
    image("images/b.png", 1, 11, 17);
  }
  void TearDown() override { fs::remove_all(dir_); }

  test::RunResult run(const std::string& args) { return test::run_resr(dir_, args); }

  void image(const std::string& name, int channels, int w, int h) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.bytes.resize(img.sample_count());
    for (std::size_t i = 0; i < img.bytes.size(); ++i) img.bytes[i] = std::uint8_t((i * 37 + i / 5) % 251);
    ASSERT_TRUE(write_image_file(img, (dir_ / name).string(), ImageFormat::kPng, {}).ok());
  }

  static std::string fixture(const std::string& name) { return test::data_path("fixtures/" + name); }
  std::string images() const { return (dir_ / "images").string(); }
  // The tensor lines of a table (everything after the header, which holds the date).
  // The table's ranges: past its five header lines, and before its "# end" line, whose CRC covers the header's
  // date too (two runs in two seconds differed only there, failing a comparison now and then).
  static std::string body(const fs::path& table) {
    const std::string text = test::slurp(table);
    std::size_t pos = 0;
    for (int i = 0; i < 5; ++i) pos = text.find('\n', pos) + 1;
    const std::size_t end = text.rfind("# end ");
    return text.substr(pos, end == std::string::npos || end < pos ? std::string::npos : end - pos);
  }

  void expect_refused(const test::RunResult& r, const std::string& names, const fs::path& output) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(names), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(output)) << output;
    for (const auto& entry : fs::recursive_directory_iterator(dir_))
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }

  fs::path dir_;
};

TEST_F(CliCalibrateTest, WritesATableOfEveryConvInput) {
  const fs::path out = dir_ / "srvgg.calib";
  test::RunResult r = run("calibrate -m " + fixture("srvgg_x4_prelu.pth") + " -i " + images() +
                          " --num 5 --tile 16 -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("samples:    5 tiles"), std::string::npos) << r.out;
  auto table = quant::read_calib_table(out.string());
  ASSERT_TRUE(table.ok()) << table.status().message();
  EXPECT_EQ(table->method, "percentile");  // the default
  EXPECT_EQ(table->samples, 5);
  EXPECT_EQ(table->tile, 16);
  EXPECT_NE(r.out.find("tensors:    " + std::to_string(table->tensors.size())), std::string::npos) << r.out;
  EXPECT_GE(table->tensors.size(), 3u);
  // Same seed, same ranges; another seed, other tiles.
  const fs::path again = dir_ / "again.calib", other = dir_ / "other.calib";
  ASSERT_EQ(run("calibrate -m " + fixture("srvgg_x4_prelu.pth") + " -i " + images() + " --num 5 --tile 16 -o " +
                again.string())
                .exit_code,
            0);
  EXPECT_EQ(body(out), body(again));
  ASSERT_EQ(run("calibrate -m " + fixture("srvgg_x4_prelu.pth") + " -i " + images() +
                " --num 5 --tile 16 --seed 9 -o " + other.string())
                .exit_code,
            0);
  EXPECT_NE(body(out), body(other));
  // One image instead of a folder.
  const fs::path single = dir_ / "single.calib";
  r = run("calibrate -m " + fixture("srvgg_x4_prelu.pth") + " -i " + (dir_ / "images" / "a.png").string() +
          " --num 2 --tile 8 -o " + single.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("images:     1 used"), std::string::npos) << r.out;
}

TEST_F(CliCalibrateTest, MethodsAndPixelUnshuffleModels) {
  for (const char* method : {"minmax", "percentile", "kl", "mse"}) {
    const fs::path out = dir_ / (std::string(method) + ".calib");
    const std::string percentile = std::string(method) == "percentile" ? " --percentile 99.9" : "";
    test::RunResult r = run("calibrate -m " + fixture("rrdb_x2.pth") + " -i " + images() +
                            " --num 3 --tile 9 --method " + method + percentile + " -o " + out.string());
    ASSERT_EQ(r.exit_code, 0) << method << ": " << r.err;
    auto table = quant::read_calib_table(out.string());
    ASSERT_TRUE(table.ok()) << table.status().message();
    EXPECT_EQ(table->method, method);
  }
}

TEST_F(CliCalibrateTest, SkipsUnreadableImagesWithAWarning) {
  std::ofstream(dir_ / "images" / "broken.png") << "not a png";
  std::ofstream(dir_ / "images" / "notes.txt") << "not an image name: ignored";
  const fs::path out = dir_ / "t.calib";
  test::RunResult r =
      run("calibrate -m " + fixture("srvgg_x4_prelu.pth") + " -i " + images() + " --num 2 --tile 8 -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("broken.png"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.out.find("1 skipped"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out));
}

// Calibration images that are flat (a black frame, one colour) give ranges that miss what photos hold: a warning.
// The textured test images give none (the test above counts one stderr line).
TEST_F(CliCalibrateTest, NearlyFlatImagesAreWarnedAbout) {
  fs::create_directories(dir_ / "flat");
  Image black;
  black.width = 24;
  black.height = 20;
  black.channels = 3;
  black.bytes.assign(black.sample_count(), 3);
  ASSERT_TRUE(write_image_file(black, (dir_ / "flat" / "black.png").string(), ImageFormat::kPng, {}).ok());
  const fs::path out = dir_ / "t.calib";
  test::RunResult r = run("calibrate -m " + fixture("srvgg_x4_prelu.pth") + " -i " + (dir_ / "flat").string() +
                          " --num 2 --tile 8 -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: 2 of 2 calibration tiles are nearly flat"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(CliCalibrateTest, BadInputIsRefused) {
  const fs::path out = dir_ / "t.calib";
  const std::string model = "-m " + fixture("srvgg_x4_prelu.pth");
  const std::string o = " -o " + out.string();
  expect_refused(run("calibrate " + model + " -i " + (dir_ / "nowhere").string() + o), "nowhere", out);
  fs::create_directories(dir_ / "empty");
  expect_refused(run("calibrate " + model + " -i " + (dir_ / "empty").string() + o), "empty", out);
  fs::create_directories(dir_ / "junk");
  std::ofstream(dir_ / "junk" / "x.png") << "garbage";
  test::RunResult junk = run("calibrate " + model + " -i " + (dir_ / "junk").string() + o);
  EXPECT_NE(junk.exit_code, 0);
  EXPECT_NE(junk.err.find("x.png"), std::string::npos) << junk.err;
  EXPECT_FALSE(fs::exists(out));
  // One image that does not decode: the error, once (it was a warning that it was skipped, then the same error).
  junk = run("calibrate " + model + " -i " + (dir_ / "junk" / "x.png").string() + o);
  EXPECT_NE(junk.exit_code, 0);
  EXPECT_EQ(junk.err, "resr: " + (dir_ / "junk" / "x.png").string() + ": not a PNG, JPEG, WebP or TIFF image\n");
  EXPECT_FALSE(fs::exists(out));
  expect_refused(run("calibrate " + model + " -i " + images() + " --num 0" + o), "--num", out);
  // Unbounded, 1e9 took 20 GB before it failed.
  expect_refused(run("calibrate " + model + " -i " + images() + " --num 1000000000" + o),
                 "--num (tiles) must be in [1, 100000]", out);
  expect_refused(run("calibrate " + model + " -i " + images() + " --tile 4" + o), "--tile", out);
  // -1 wrapped to 2^64 - 1, and 2^64 was clamped to it.
  expect_refused(run("calibrate " + model + " -i " + images() + " --seed -1" + o),
                 "--seed: not a non-negative integer: -1", out);
  expect_refused(run("calibrate " + model + " -i " + images() + " --seed 18446744073709551616" + o),
                 "--seed: out of range", out);
  expect_refused(run("calibrate " + model + " -i " + images() + " --method entropy" + o), "entropy", out);
  expect_refused(run("calibrate " + model + " -i " + images() + " --method percentile --percentile 0" + o),
                 "--percentile", out);
  expect_refused(run("calibrate " + model + " -i " + images() + " --method minmax --percentile 99" + o),
                 "--percentile applies to --method percentile, not minmax", out);
  const fs::path unwritable = dir_ / "no_such_dir" / "t.calib";
  expect_refused(run("calibrate " + model + " -i " + images() + " -o " + unwritable.string()), unwritable.string(),
                 unwritable);
  expect_refused(run("calibrate " + model + " -i " + images() + " -o " + images()), images(), out);
  expect_refused(run("calibrate -m " + (dir_ / "missing.pth").string() + " -i " + images() + o), "missing.pth", out);
  // A --tile larger than the images is cut to their size: no machine could hold 30000x30000, but it is not asked.
  test::RunResult big = run("calibrate " + model + " -i " + images() + " --num 1 --tile 30000" + o);
  EXPECT_EQ(big.exit_code, 0) << big.err;
  // ... and more tiles than its images hold repeat some: said so (500 of one 40x30 image took 164 s unnoticed).
  big = run("calibrate " + model + " -i " + images() + " --num 3 --tile 30000" + o);
  EXPECT_EQ(big.exit_code, 0) << big.err;
  EXPECT_NE(big.err.find("note: the images hold only"), std::string::npos) << big.err;
}

}  // namespace
}  // namespace resr
