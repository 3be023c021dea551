// The compiled .resr model through the binary: `resr convert --precision fp32|fp16|int8|fp8`, `resr info` on the
// result, upscaling with it (fp32: the same image as the source model), option errors, and broken .resr files
// (one line naming the file, a non-zero exit, no output image).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/conv3x3_int8.h"
#include "formats/resr_file.h"
#include "support/cli_run.h"
#include "support/paths.h"
#include "support/slurp.h"

namespace resr {
namespace {
namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return test::data_path("fixtures/" + name);
}

class CliResr : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_cli_resr_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  test::RunResult run(const std::string& args) { return test::run_resr(dir_, args); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void expect_one_line_error(const test::RunResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "': " << r.err;
  }
  // Converts the small PReLU fixture; returns the .resr path.
  std::string convert(const std::string& name, const std::string& options = "") {
    const test::RunResult r =
        run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " -o " + path(name) + " " + options);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path(name);
  }
  std::string calibrate() {
    const test::RunResult r =
        run("calibrate -m " + fixture("srvgg_x4_prelu.safetensors") + " -i " + test::data_path("x4fast_37x29.in.png") +
            " --num 2 --tile 16 --method minmax -o " + path("t.calib"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path("t.calib");
  }
  fs::path dir_;
};

TEST_F(CliResr, Fp32FileUpscalesLikeItsSource) {
  const std::string resr = convert("m.resr");
  const std::string in = test::data_path("x4fast_37x29.in.png");
  for (const char* backend : {"cpu", "ref"}) {
    const std::string a = path(std::string("a_") + backend + ".png"), b = path(std::string("b_") + backend + ".png");
    ASSERT_EQ(run("upscale -i " + in + " -o " + a + " -m " + resr + " --backend " + backend).exit_code, 0);
    ASSERT_EQ(
        run("upscale -i " + in + " -o " + b + " -m " + fixture("srvgg_x4_prelu.safetensors") + " --backend " + backend)
            .exit_code,
        0);
    EXPECT_EQ(test::slurp(a), test::slurp(b)) << backend;
  }
  const test::RunResult r = run("info -m " + resr);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format:         resr"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("precision:      fp32 4 convs (100.0% of multiply-adds)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("compiled from:  " + fixture("srvgg_x4_prelu.safetensors")), std::string::npos) << r.out;
  // -n NAME finds NAME.resr; bench takes it too.
  EXPECT_EQ(run("info -m " + dir_.string() + " -n m").exit_code, 0);
  EXPECT_EQ(run("bench -m " + resr + " --size 16x16 --iters 1").exit_code, 0);
  // The extension in any case names the format, as it does when the file is read.
  const std::string upper = convert("M.RESR");
  const std::string info = run("info -m " + upper).out;
  EXPECT_NE(info.find("format:         resr"), std::string::npos) << info;
  EXPECT_NE(info.find("precision:      fp32 4 convs"), std::string::npos) << info;
}

TEST_F(CliResr, Fp16AndInt8Files) {
  const std::string in = test::data_path("x4fast_37x29.in.png");
  const std::string f16 = convert("m16.resr", "--precision fp16");
  test::RunResult r = run("info -m " + f16);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("precision:      fp16 4 convs (100.0% of multiply-adds)"), std::string::npos) << r.out;

  const std::string table = calibrate();
  r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --calib " + table + " -o " +
          path("m8.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("precision int8, INT8 100.0% of multiply-adds (convs: 4 int8), per-channel input scales on 4 "
                       "INT8 convs, "),
            std::string::npos)
      << r.out;
  // Where INT8 has no VNNI kernel, converting to it says that it will run slower here.
  EXPECT_EQ(r.err.find("INT8 convolutions run here on int16 multiply-adds (AVX2) or the portable kernel, slower") !=
                std::string::npos,
            !cpu::cpu_has_fast_int8())
      << r.err;
  r = run("info -m " + path("m8.resr") + " -v");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("precision:      int8 4 convs (100.0% of multiply-adds)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("calibration:    minmax (table "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bias, int8"), std::string::npos) << r.out;
  ASSERT_EQ(run("upscale -i " + in + " -o " + path("o8.png") + " -m " + path("m8.resr")).exit_code, 0);
  // Every channel filling the INT8 range (migration strength 1): other scales, so another file.
  r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --scale-migration 1 --calib " +
          table + " -o " + path("m8m1.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("per-channel input scales on 4 INT8 convs"), std::string::npos) << r.out;
  auto half = formats::read_resr_file(path("m8.resr")), full = formats::read_resr_file(path("m8m1.resr"));
  ASSERT_TRUE(half.ok() && full.ok());
  int moved = 0;
  for (std::size_t i = 0; i < half->graph.nodes.size(); ++i) {
    const std::vector<float>&a = half->graph.nodes[i].quant.in_channel_scales,
          &b = full->graph.nodes[i].quant.in_channel_scales;
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t c = 0; c < a.size(); ++c) moved += a[c] != b[c];
  }
  EXPECT_GT(moved, 0);
  // Estimated per group (no images needed): the summary counts the convs given each strength, 4 in all.
  r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --scale-migration estimate" +
          " --calib " + table + " -o " + path("m8e.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch est;
  ASSERT_TRUE(std::regex_search(
      r.out, est,
      std::regex("per-channel input scales on 4 INT8 convs \\(migration estimated per group, convs: ([^)]+)\\)")))
      << r.out;
  int estimated = 0;
  const std::string counts = est[1].str();
  const std::regex count("(0\\.25|0\\.50|0\\.75|1\\.00) x([0-9]+)");
  for (std::sregex_iterator it(counts.begin(), counts.end(), count), end; it != end; ++it)
    estimated += std::stoi((*it)[2].str());
  EXPECT_EQ(estimated, 4) << r.out;
  ASSERT_EQ(run("upscale -i " + in + " -o " + path("o8.png") + " -m " + path("m8e.resr")).exit_code, 0);
  // One input scale per conv, on request.
  r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --input-scales tensor --calib " +
          table + " -o " + path("m8t.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(convs: 4 int8), "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("per-channel input scales"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("no per-channel maxima"), std::string::npos) << r.err;
  // A v1 table (no channel maxima, as older resr wrote): one scale per conv, and a note saying so.
  {
    std::ifstream t(table);
    std::ofstream v1(path("v1.calib"));
    for (std::string line; std::getline(t, line);) {
      if (line == "# resr calibration table v3") line = "# resr calibration table v1";  // (the end line: a comment)
      if (!line.empty() && line[0] != '#') {
        std::istringstream fields(line);
        std::string name, threshold, lo, hi;
        fields >> name >> threshold >> lo >> hi;
        line = name + " " + threshold + " " + lo + " " + hi;
      }
      v1 << line << "\n";
    }
  }
  r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --calib " + path("v1.calib") +
          " -o " + path("m8v1.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("per-channel input scales"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("has no per-channel maxima (a v1 table): one input scale per conv"), std::string::npos) << r.err;

  // --qtable keeps the named convs out of INT8.
  std::ofstream(path("keep.txt")) << "# keep the last conv\nbody.6 fp16\n";
  r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --asymmetric --calib " + table +
          " --qtable " + path("keep.txt") + " -o " + path("mixed.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(convs: 3 int8, 1 fp16)"), std::string::npos) << r.out;
  r = run("info -m " + path("mixed.resr"));
  EXPECT_NE(r.out.find("precision:      int8 3 convs ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", fp16 1 conv ("), std::string::npos) << r.out;
}

TEST_F(CliResr, Fp8File) {
  const std::string in = test::data_path("x4fast_37x29.in.png");
  const std::string table = calibrate();
  test::RunResult r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision fp8 --calib " + table +
                          " -o " + path("f8.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("precision fp8, FP8 100.0% of multiply-adds (convs: 4 fp8)"), std::string::npos) << r.out;
  r = run("info -m " + path("f8.resr") + " -v");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("precision:      fp8 4 convs (100.0% of multiply-adds)"), std::string::npos) << r.out;
  const test::RunResult up =
      run("upscale -i " + in + " -o " + path("o8.png") + " -m " + path("f8.resr") + " --backend cpu");
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_NE(up.err.find("has FP8 convolutions, which the CPU emulates"), std::string::npos) << up.err;
  EXPECT_TRUE(fs::exists(path("o8.png")));
  const test::RunResult bench = run("bench -m " + path("f8.resr") + " --backend cpu --size 8x8 --iters 1");
  ASSERT_EQ(bench.exit_code, 0) << bench.err;  // and bench, which times it so, says it too
  EXPECT_NE(bench.err.find("has FP8 convolutions, which the CPU emulates"), std::string::npos) << bench.err;
  const std::string m = "convert -m " + fixture("srvgg_x4_prelu.safetensors");
  const std::string calib = " --calib " + table;
  const std::vector<std::pair<std::string, const char*>> bad = {
      // options, then the one line expected
      {" --precision fp8", "--precision fp8 needs --calib"},
      {" --precision fp8 --asymmetric" + calib, "--asymmetric applies to --precision int8 only"},
      {" --precision fp8 --input-scales channel" + calib, "--input-scales applies to --precision int8 or int8+fp8"},
      {" --precision int8 --input-scales tensor --scale-migration 1" + calib,
       "--scale-migration applies to int8 with per-channel input scales"},
      {" --precision int8 --scale-migration auto" + calib, "--scale-migration auto needs --images DIR"},
      {" --precision int8 --scale-migration 0.5x" + calib, "--scale-migration must be auto, estimate or in (0, 1]"},
      {" --precision int8 --scale-migration estimated" + calib,
       "--scale-migration must be auto, estimate or in (0, 1]"},
      {" --precision int8 --input-scales tensor --scale-migration estimate" + calib,
       "--scale-migration applies to int8 with per-channel input scales"},
      {" --precision fp8 --scale-migration estimate" + calib,
       "--scale-migration applies to int8 with per-channel input scales"},
      {" --precision int8 --asymmetric --input-scales channel" + calib, "--input-scales channel is for symmetric int8"},
  };
  for (const auto& [options, expect] : bad) expect_one_line_error(run(m + options + " -o " + path("x.resr")), expect);
  EXPECT_FALSE(fs::exists(path("x.resr")));
}

TEST_F(CliResr, TargetPsnrSearchPrintsItsCurveAndWritesTheMixedFile) {
  const std::string table = calibrate();
  fs::create_directories(dir_ / "imgs");
  fs::copy_file(test::data_path("x4fast_37x29.in.png"), dir_ / "imgs" / "a.png");
  // For each quantized precision (the curve and the summary name it):
  for (const std::string precision : {"int8", "fp8"}) {
    const std::string kind = precision == "int8" ? "INT8" : "FP8";
    const std::string base = "convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision " + precision +
                             " --calib " + table + " --images " + (dir_ / "imgs").string() +
                             " --search-tiles 2 --search-tile 16";
    // 150 dB: only all-FP32 reaches it, so the search measures every conv and keeps them all.
    test::RunResult r = run(base + " --target-psnr 150 -o " + path("all_" + precision + ".resr"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("curve (" + kind + " share of multiply-adds"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("search: target met: 4 convs kept out of " + kind + ", " + kind + " share 0.0%"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("(convs: 4 fp32)"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("warning: no conv could stay in " + kind + " within the target"), std::string::npos) << r.err;
    // 5 dB: every conv quantized is enough.
    r = run(base + " --target-psnr 5 -o " + path("low_" + precision + ".resr"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("search: target met: 0 convs kept out of " + kind + ", " + kind + " share 100.0%"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("(convs: 4 " + precision + ")"), std::string::npos) << r.out;
  }
  expect_one_line_error(run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --calib " +
                            table + " --target-psnr 30 -o " + path("x.resr")),
                        "--target-psnr needs --images DIR");
  EXPECT_FALSE(fs::exists(path("x.resr")));
  // --scale-migration auto measures three strengths on the same sample tiles and names the one it took.
  test::RunResult r = run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 --calib " + table +
                          " --images " + (dir_ / "imgs").string() +
                          " --search-tiles 2 --search-tile 16 --scale-migration auto -o " + path("auto.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("search: scale migration \\(PSNR vs FP32 on 2 tiles\\): 0\\.50 -> "
                                                  "[0-9.]+ dB 0\\.75 -> [0-9.]+ dB 1\\.00 -> [0-9.]+ dB; chose "
                                                  "(0\\.50|0\\.75|1\\.00)")))
      << r.out;
  std::smatch chose;
  ASSERT_TRUE(std::regex_search(r.out, chose, std::regex("chose ([0-9.]+)"))) << r.out;
  EXPECT_NE(r.out.find("(migration " + chose[1].str().substr(0, 4) + ", measured)"), std::string::npos) << r.out;
}

// --images measures what the precision costs (PSNR against FP32 on its tiles), prints it, keeps it in the file for
// resr info, and warns when it is low; without --images, a note says it was not measured.
TEST_F(CliResr, ImagesMeasureTheQualityAndTheFileKeepsIt) {
  const std::string table = calibrate();
  fs::create_directories(dir_ / "imgs");
  fs::copy_file(test::data_path("x4fast_37x29.in.png"), dir_ / "imgs" / "a.png");
  const std::string m = "convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision int8 ";
  const std::string images = " --images " + (dir_ / "imgs").string() + " --search-tiles 2 --search-tile 16";
  test::RunResult r = run(m + "--calib " + table + images + " -o " + path("q.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch measured;
  ASSERT_TRUE(std::regex_search(r.out, measured,
                                std::regex("quality: PSNR ([0-9.]+) dB against FP32 on 2 tiles of 16x16 from")))
      << r.out;
  EXPECT_GT(std::stod(measured[1]), 20.0);
  EXPECT_LT(std::stod(measured[1]), 90.0);  // INT8 is not FP32
  r = run("info -m " + path("q.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("quality:        PSNR " + measured[1].str() + " dB against FP32 on 2 tiles of 16x16"),
            std::string::npos)
      << r.out;

  // Without --images: a note, and info says the same.
  r = run(m + "--calib " + table + " -o " + path("n.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: quality not measured: --images DIR"), std::string::npos) << r.err;
  EXPECT_NE(run("info -m " + path("n.resr")).out.find("quality:        not measured"), std::string::npos);

  // A table whose thresholds were cut a hundredfold (a hand edit, so v2): written, with a warning. On the real
  // x4fast (the fixture's random weights hardly notice).
  const std::string x4fast = " -m " + test::model_dir() + " -n x4fast";
  ASSERT_EQ(run("calibrate" + x4fast + " -i " + test::data_path("x4fast_37x29.in.png") +
                " --num 2 --tile 16 --method minmax -o " + path("x4fast.calib"))
                .exit_code,
            0);
  std::istringstream lines(test::slurp(path("x4fast.calib")));
  std::ostringstream shrunk;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# end ", 0) == 0) continue;
    if (line.rfind("# resr calibration table v3", 0) == 0) line = "# resr calibration table v2" + line.substr(27);
    if (!line.empty() && line[0] != '#') {
      std::istringstream tokens(line);
      std::string name, threshold, rest;
      tokens >> name >> threshold;
      std::getline(tokens, rest);
      std::ostringstream scaled;
      scaled << name << " " << std::stod(threshold) * 0.01 << rest;
      line = scaled.str();
    }
    shrunk << line << "\n";
  }
  std::ofstream(path("shrunk.calib")) << shrunk.str();
  r = run("convert" + x4fast + " --precision int8 --calib " + path("shrunk.calib") + images + " -o " +
          path("bad.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: " + path("bad.resr") + " is "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("errors are likely visible"), std::string::npos) << r.err;

  // --images measures a quantized model only.
  expect_one_line_error(run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --precision fp16" + images +
                            " -o " + path("x.resr")),
                        "--images apply to --precision int8, fp8 or int8+fp8");
  EXPECT_FALSE(fs::exists(path("x.resr")));
}

TEST_F(CliResr, Int8OrFp8ChosenPerConvAndByQtable) {
  const std::string in = test::data_path("x4fast_37x29.in.png");
  const std::string table = calibrate();
  fs::create_directories(dir_ / "imgs");
  fs::copy_file(in, dir_ / "imgs" / "a.png");
  const std::string m = "convert -m " + fixture("srvgg_x4_prelu.safetensors") + " --calib " + table;
  test::RunResult r = run(m + " --precision int8+fp8 --images " + (dir_ / "imgs").string() +
                          " --search-tiles 2 --search-tile 16 -o " + path("mix.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The choice is measured, so either count may come out; the file must hold what the search reported.
  std::smatch chose;
  ASSERT_TRUE(std::regex_search(r.out, chose, std::regex("search: INT8 or FP8: ([0-4]) of 4 convs chose FP8")))
      << r.out;
  const int fp8 = std::stoi(chose[1]);
  std::string convs = fp8 > 0 ? std::to_string(fp8) + " fp8" : "";
  if (fp8 < 4) convs += (convs.empty() ? "" : ", ") + std::to_string(4 - fp8) + " int8";
  EXPECT_NE(r.out.find("precision int8+fp8, INT8+FP8 100.0% of multiply-adds (convs: " + convs + ")"),
            std::string::npos)
      << r.out;
  ASSERT_EQ(run("upscale -i " + in + " -o " + path("o.png") + " -m " + path("mix.resr")).exit_code, 0);
  expect_one_line_error(run(m + " --precision int8+fp8 -o " + path("x.resr")),
                        "--precision int8+fp8 needs --images DIR");
  EXPECT_FALSE(fs::exists(path("x.resr")));

  // A --qtable names each conv's precision, the quantized ones included.
  std::ofstream(path("per_conv.txt")) << "body.0 fp8\nbody.6 fp32\n";
  r = run(m + " --precision int8 --qtable " + path("per_conv.txt") + " -o " + path("q.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(convs: 1 fp8, 2 int8, 1 fp32)"), std::string::npos) << r.out;
  // A name in it that is no conv: the qtable is named, not the calibration table.
  std::ofstream(path("bad.qtable")) << "nosuch fp32\n";
  expect_one_line_error(run(m + " --precision int8 --qtable " + path("bad.qtable") + " -o " + path("x.resr")),
                        "bad.qtable: 'nosuch' (to run at fp32) is no convolution of this model");
  // With a conv pinned to INT8, keeping every other conv is not FP32: a target above it is said to be missed.
  std::ofstream(path("pin.qtable")) << "body.6 int8\n";
  r = run(m + " --precision int8 --qtable " + path("pin.qtable") + " --target-psnr 150 --images " +
          (dir_ / "imgs").string() + " --search-tiles 2 --search-tile 16 -o " + path("pin.resr"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("search: target NOT met: 3 convs kept"), std::string::npos) << r.out;
  // Sample images all smaller than the search tile, and one that does not decode: the size is the error.
  fs::create_directories(dir_ / "small");
  fs::copy_file(test::data_path("x4fast_37x29.in.png"), dir_ / "small" / "a.png");
  std::ofstream(dir_ / "small" / "b.png") << "not a png";
  r = run(m + " --precision int8 --target-psnr 30 --images " + (dir_ / "small").string() + " -o " + path("x.resr"));
  expect_one_line_error(
      r, (dir_ / "small").string() + ": no sample image is at least 48x48 pixels (the largest is 37x29; --search-tile");
  EXPECT_NE(r.out.find("skipped " + (dir_ / "small" / "b.png").string()), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path("x.resr")));
}

TEST_F(CliResr, OptionErrorsComeBeforeAnyOutput) {
  const std::string m = "convert -m " + fixture("srvgg_x4_prelu.safetensors");
  expect_one_line_error(run(m + " --precision int8 -o " + path("x.resr")), "--precision int8 needs --calib");
  expect_one_line_error(run(m + " --precision fp16 --calib t -o " + path("x.resr")),
                        "apply to --precision int8, fp8 or int8+fp8");
  expect_one_line_error(run(m + " --storage fp16 -o " + path("x.resr")), "--storage applies to --to ncnn");
  expect_one_line_error(run(m + " --to resr -o " + path("x.param")), "the resr output must be a .resr file");
  expect_one_line_error(run(m + " --precision fp16 -o " + path("x.param")), "x.param' does not end in .resr");
  expect_one_line_error(run(m + " --to ncnn --precision fp16 -o " + path("x.param")), "apply to --to resr");
  expect_one_line_error(run(m + " --precision int8 --calib " + path("none.calib") + " -o " + path("x.resr")),
                        "none.calib");
  // Given with no effect: refused, where they were taken and ignored.
  expect_one_line_error(run(m + " --scale-migration '' -o " + path("x.resr")), "--scale-migration: must be auto");
  expect_one_line_error(run(m + " --search-tiles 3 -o " + path("x.resr")), "apply with --images DIR");
  // The search's samples and their outputs are held at once: sizes no machine holds are refused first.
  fs::create_directories(dir_ / "one");
  fs::copy_file(test::data_path("x4fast_37x29.in.png"), dir_ / "one" / "a.png");
  expect_one_line_error(
      run(m + " --precision int8+fp8 --calib " + calibrate() + " --images " + (dir_ / "one").string() +
          " --search-tiles 1000 --search-tile 1024 -o " + path("x.resr")),
      "1000 search tiles of 1024x1024 (--search-tiles, --search-tile) with their outputs needs about");
  expect_one_line_error(run(m + " -o " + path("no/such/dir/x.resr")),
                        "x.resr: cannot write (no folder");  // checked before the model loads
  const std::string f16 = convert("m16.resr", "--precision fp16");
  expect_one_line_error(run("convert -m " + f16 + " --precision fp16 -o " + path("again.resr")),
                        "already compiled (fp16 convolutions)");
  // An INT8 model to ncnn would be written as dequantized FP32 weights: refused by name.
  const std::string i8 = convert("m8.resr", "--precision int8 --calib " + calibrate());
  expect_one_line_error(run("convert -m " + i8 + " -o " + path("m8.param")),
                        "has int8 convolutions, which ncnn files written here cannot hold");
  // The extension in any case, as for .RESR (X.PARAM said "the ncnn output must be a .param file").
  const test::RunResult upper = run(m + " -o " + path("UP.PARAM"));
  EXPECT_EQ(upper.exit_code, 0) << upper.err;
  EXPECT_TRUE(fs::exists(path("UP.PARAM")) && fs::exists(path("UP.bin")));
  EXPECT_FALSE(fs::exists(path("m8.param")));
  EXPECT_FALSE(fs::exists(path("x.resr")));
  EXPECT_FALSE(fs::exists(path("again.resr")));
}

// convert and calibrate never write over what they read: the model (both ncnn files), or a calibration image.
TEST_F(CliResr, OutputsThatAreTheirInputsAreRefused) {
  ASSERT_EQ(run("convert -m " + fixture("srvgg_x4_prelu.safetensors") + " -o " + path("m.param")).exit_code, 0);
  const std::string param = test::slurp(path("m.param")), bin = test::slurp(path("m.bin"));
  expect_one_line_error(run("convert -m " + path("m.param") + " -o " + path("m.param") + " --storage fp16"),
                        "the output would overwrite its input");
  fs::copy_file(path("m.bin"), path("other.bin"));
  fs::copy_file(path("m.param"), path("other.param"));
  fs::remove(path("other.bin"));
  fs::create_symlink(path("m.bin"), path("other.bin"));  // OUT.bin would be the model's .bin under another name
  expect_one_line_error(run("convert -m " + path("m.param") + " -o " + path("other.param") + " --storage fp16"),
                        "the output would overwrite its input");
  fs::copy_file(test::data_path("x4fast_37x29.in.png"), path("in.png"));
  expect_one_line_error(run("calibrate -m " + path("m.param") + " -i " + path("in.png") + " -o " + path("in.png")),
                        "the output would overwrite its input");
  expect_one_line_error(run("calibrate -m " + path("m.param") + " -i " + path("in.png") + " -o " + path("m.bin")),
                        "the output would overwrite its input");
  EXPECT_EQ(test::slurp(path("m.param")), param);
  EXPECT_EQ(test::slurp(path("m.bin")), bin);
  EXPECT_EQ(test::slurp(path("in.png")), test::slurp(test::data_path("x4fast_37x29.in.png")));
}

TEST_F(CliResr, BrokenFilesGiveOneLineAndNoOutput) {
  const std::vector<std::uint8_t> good = [&] {
    const std::string s = test::slurp(convert("good.resr"));
    return std::vector<std::uint8_t>(s.begin(), s.end());
  }();
  auto write = [&](const std::string& name, std::vector<std::uint8_t> bytes) {
    std::ofstream(path(name), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
    return path(name);
  };
  std::vector<std::uint8_t> flipped = good, version = good, magic = good;
  flipped[good.size() / 2] ^= 1;
  version[8] = 9;
  magic[1] = 'X';
  struct Case {
    std::string file;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {write("empty.resr", {}), "empty file"},
      {write("cut.resr", {good.begin(), good.begin() + long(good.size() / 3)}), "truncated"},
      {write("flipped.resr", flipped), "checksum mismatch: the file is corrupt"},
      {write("version.resr", version), "was written by format version 9; this resr reads versions 1 to 2"},
      {write("magic.resr", magic), "not a .resr file"},
  };
  const std::string in = test::data_path("x4fast_37x29.in.png");
  for (const Case& c : cases) {
    expect_one_line_error(run("info -m " + c.file), c.file + ": " + c.expect);
    const std::string out = path("out.png");
    expect_one_line_error(run("upscale -i " + in + " -o " + out + " -m " + c.file), c.file + ": ");
    EXPECT_FALSE(fs::exists(out)) << c.file;
  }
}

}  // namespace
}  // namespace resr
