// `resr eval --models REF MODEL... --dir DIR`: per-image and mean PSNR/SSIM (RGB and Y) of models against a
// reference model, and its bad input (one line, non-zero exit).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "backends/cpu/float_products.h"
#include "image/codec.h"
#include "support/cli_run.h"
#include "support/paths.h"

namespace resr {
namespace {
namespace fs = std::filesystem;

class CliEval : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_cli_eval_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "images");
    for (int i = 0; i < 2; ++i) {
      Image img;
      img.width = 9 + i;
      img.height = 7;
      img.channels = 3;
      img.bytes.resize(img.sample_count());
      for (std::size_t k = 0; k < img.bytes.size(); ++k) img.bytes[k] = std::uint8_t((k * 37 + i * 11) % 251);
      ASSERT_TRUE(
          write_image_file(img, (dir_ / "images" / ("im" + std::to_string(i) + ".png")).string(), ImageFormat::kPng, {})
              .ok());
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  test::RunResult run(const std::string& args) { return test::run_resr(dir_, args); }
  static std::string fixture(const std::string& name) { return test::data_path("fixtures/" + name); }
  fs::path dir_;
};

TEST_F(CliEval, SameModelInTwoFormatsScoresNearPerfectAndAnotherModelDoesNot) {
  const std::string images = (dir_ / "images").string();
  test::RunResult r = run("eval --json --models " + fixture("srvgg_x4_prelu.safetensors") + " " +
                          fixture("srvgg_x4_prelu.onnx") + " " + fixture("rrdb_x4.pth") + " --dir " + images);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["images"].size(), 4u);  // 2 images x 2 compared models
  ASSERT_EQ(j["means"].size(), 2u);
  auto db = [](const nlohmann::json& v) { return v.is_string() ? 1e9 : v.get<double>(); };
  EXPECT_GT(db(j["means"][0]["mean_psnr_db"]), 70.0) << r.out;  // same weights, another reader: float noise
  EXPECT_GT(db(j["means"][0]["mean_psnr_y_db"]), 70.0);
  EXPECT_GT(j["means"][0]["mean_ssim"].get<double>(), 0.9999);
  EXPECT_LT(db(j["means"][1]["mean_psnr_db"]), 40.0) << r.out;  // a different network
  EXPECT_LT(j["means"][1]["mean_ssim_y"].get<double>(), j["means"][0]["mean_ssim_y"].get<double>());
}

// --crop applies to the comparison of models too (it was ignored): the scores change, and a crop that leaves
// nothing of the upscaled output is named as the output's.
TEST_F(CliEval, CropAppliesToTheComparedOutputs) {
  const std::string models = "eval --json --models " + fixture("srvgg_x4_prelu.safetensors") + " " +
                             fixture("rrdb_x4.pth") + " --dir " + (dir_ / "images").string();
  test::RunResult whole = run(models), cropped = run(models + " --crop 4");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ASSERT_EQ(cropped.exit_code, 0) << cropped.err;
  const double a = nlohmann::json::parse(whole.out)["means"][0]["mean_psnr_db"].get<double>();
  const double b = nlohmann::json::parse(cropped.out)["means"][0]["mean_psnr_db"].get<double>();
  EXPECT_GT(std::abs(a - b), 1e-6) << whole.out << cropped.out;
  // 36x28 and 40x28 outputs: --crop 9 leaves 18x10 and 22x10, under SSIM's window, so PSNR alone, as eval --ref
  // gives it (the image failed); --crop 14 leaves nothing.
  test::RunResult r = run(models + " --crop 9");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["images"][0]["ssim"].is_null()) << r.out;
  EXPECT_NE(j["images"][0]["ssim_error"].get<std::string>().find("upscaled: image 36x28 with crop border 9"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(j["means"][0]["mean_psnr_db"].is_number()) << r.out;
  EXPECT_TRUE(j["means"][0]["mean_ssim"].is_null()) << r.out;
  r = run(models + " --crop 14");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("im0.png: upscaled: crop border leaves nothing to compare"), std::string::npos) << r.err;
}

TEST_F(CliEval, Bf16AgainstTheSameModelInFp32) {
  // --models x4fast x4fast --bf16: the reference stays fp32, the second multiplies in bfloat16 where the CPU can.
  const std::string model = test::model_dir() + "/realesrgan-x4fast.param";
  test::RunResult r =
      run("eval --json --bf16 --models " + model + " " + model + " --dir " + (dir_ / "images").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["means"].size(), 1u);
  const std::string name = j["means"][0]["model"].get<std::string>();
  EXPECT_NE(name.find("(bf16)"), std::string::npos) << name;
  const nlohmann::json& psnr = j["means"][0]["mean_psnr_db"];
  if (cpu::cpu_has_avx512_bf16()) {
    ASSERT_TRUE(psnr.is_number()) << r.out;  // not identical
    // The fixture's 9x7 stripes are all high frequency, the worst case (photos: 47 dB, docs/quantization.md);
    // measured 32.5 dB.
    EXPECT_GT(psnr.get<double>(), 28.0) << r.out;
    EXPECT_LT(psnr.get<double>(), 90.0) << r.out;
  } else {
    EXPECT_NE(r.err.find("no AVX512_BF16"), std::string::npos) << r.err;
  }
}

TEST_F(CliEval, BadInputGivesOneLine) {
  const std::string m = fixture("srvgg_x4_prelu.safetensors");
  fs::create_directories(dir_ / "one_bad");
  std::ofstream(dir_ / "one_bad" / "b.png") << "not an image";
  const std::string image = test::data_path("x4fast_37x29.in.png");
  for (const std::string& args :
       {// one image that fails: its line alone (a second line said "1 of 1 images failed")
        "eval " + image + " --ref " + (dir_ / "missing.png").string(),
        "eval --models " + m + " " + m + " --dir " + (dir_ / "one_bad").string(),
        // options of --models alone were taken and ignored
        "eval " + image + " --tile 8", "eval --models " + m + " --dir " + (dir_ / "images").string(),
        "eval --models " + m + " " + m + " --dir " + (dir_ / "nowhere").string(), "eval --models " + m + " " + m,
        "eval --models " + m + " " + fixture("rrdb_x2.pth") + " --dir " + (dir_ / "images").string(),
        "eval --models " + m + " " + (dir_ / "missing.resr").string() + " --dir " + (dir_ / "images").string(),
        // options of the worst-block PSNR, which --models does not measure, were taken and ignored
        "eval --models " + m + " " + m + " --dir " + (dir_ / "images").string() + " --y",
        "eval --models " + m + " " + m + " --dir " + (dir_ / "images").string() + " --block 8"}) {
    const test::RunResult r = run(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

// A file that cannot be read is named and left out; the others are scored, and the exit says that one failed (eval
// stopped at the first, with no result at all).
TEST_F(CliEval, ABadImageIsSkippedAndTheOthersScored) {
  std::ofstream(dir_ / "images" / "bad.png") << "not an image";
  const std::string m = fixture("srvgg_x4_prelu.safetensors");
  test::RunResult r = run("eval --models " + m + " " + m + " --dir " + (dir_ / "images").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.png: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 of 3 images failed"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("mean over 2 images"), std::string::npos) << r.out;
  const std::string im0 = test::data_path("x4fast_37x29.in.png"), bad = (dir_ / "images" / "bad.png").string();
  r = run("eval " + im0 + " " + bad + " " + im0 + " --ref " + im0 + " " + im0 + " " + im0);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.png: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 of 3 images failed"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("over 2 images"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace resr
