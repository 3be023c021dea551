// `resr info` / `resr convert` / `resr upscale` on every model format (the committed fixtures), -dn, and
// bad model files: one line on stderr naming the file, a non-zero exit, no output file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "image/codec.h"
#include "support/cli_run.h"
#include "support/paths.h"
#include "support/slurp.h"
#include "unit/formats/pickle_bytes.h"

namespace resr {
namespace {
namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return test::data_path("fixtures/" + name);
}

class CliFormats : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_cli_formats_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  test::RunResult run(const std::string& args) { return test::run_resr(dir_, args); }
  std::string write(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
    return p.string();
  }
  void expect_one_line_error(const test::RunResult& r, const std::string& needle) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  fs::path dir_;
};

TEST_F(CliFormats, InfoShowsWhatWasDetectedForEveryFormat) {
  struct Case {
    const char* file;
    const char* expect;
  };
  for (const Case& c : {Case{"rrdb_x2.pth", "detected RRDBNet (scale 2, num_block 1, num_feat 8, num_grow_ch 4)"},
                        Case{"rrdb_x1.safetensors", "detected RRDBNet (scale 1"},
                        Case{"srvgg_x4_prelu.safetensors", "detected SRVGGNetCompact (scale 4, num_conv 2"},
                        Case{"srvgg_x4_prelu.onnx", "format:         onnx"}}) {
    const test::RunResult r = run("info -m " + fixture(c.file));
    ASSERT_EQ(r.exit_code, 0) << c.file << ": " << r.err;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << r.out;
  }
  const test::RunResult r = run("info -m " + test::data_path("fixtures") + " -n srvgg_x2_relu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("scale:          2"), std::string::npos) << r.out;
}

TEST_F(CliFormats, ConvertToNcnnReadsBackAndUpscales) {
  for (const char* storage : {"fp32", "fp16"}) {
    const std::string param = (dir_ / (std::string("m_") + storage + ".param")).string();
    test::RunResult r =
        run("convert -m " + fixture("rrdb_x2.safetensors") + " --to ncnn --storage " + storage + " -o " + param);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(fs::exists(param));
    r = run("info -m " + param);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("scale:          2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("RRDBNet"), std::string::npos) << r.out;
  }
  test::RunResult r = run("convert -m " + fixture("srvgg_x4_prelu.pth") + " --to ncnn -o " + (dir_ / "x.bin").string());
  expect_one_line_error(r, "must be a .param file");
  // A .param that is a device: refused before either file is written (a full device left the .bin in place).
  fs::create_symlink("/dev/full", dir_ / "full.param");
  r = run("convert -m " + fixture("srvgg_x4_prelu.pth") + " --to ncnn -o " + (dir_ / "full.param").string());
  expect_one_line_error(r, "full.param: not a regular file (a device, pipe or folder)");
  EXPECT_FALSE(fs::exists(dir_ / "full.bin"));
}

TEST_F(CliFormats, DenoiseStrengthBlendsWithTheWdnModel) {
  // realesr-general-x4v3 finds realesr-general-wdn-x4v3 beside it, as Real-ESRGAN does.
  fs::copy_file(fixture("srvgg_x4_prelu.pth"), dir_ / "realesr-general-x4v3.pth");
  test::RunResult r = run("info -m " + dir_.string() + " -n realesr-general-x4v3 -dn 0.5");
  expect_one_line_error(r, "realesr-general-wdn-x4v3.pth: not found");
  fs::copy_file(fixture("srvgg_x4_prelu.top.pth"), dir_ / "realesr-general-wdn-x4v3.pth");
  r = run("info -m " + dir_.string() + " -n realesr-general-x4v3 -dn 0.5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blended with:   " + (dir_ / "realesr-general-wdn-x4v3.pth").string()), std::string::npos)
      << r.out;
  r = run("info -m " + fixture("srvgg_x4_prelu.pth") + " -dn 1.5");
  EXPECT_NE(r.exit_code, 0);
  // Without -dn the twin is blended in at 0.5, Real-ESRGAN's default; -dn 1 blends nothing.
  r = run("info -m " + dir_.string() + " -n realesr-general-x4v3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blended with:"), std::string::npos) << r.out;
  r = run("info -m " + dir_.string() + " -n realesr-general-x4v3 -dn 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("blended with:"), std::string::npos) << r.out;
  // convert and calibrate take the model as upscale runs it, and say so.
  const std::string general = "-m " + dir_.string() + " -n realesr-general-x4v3";
  r = run("convert " + general + " -o " + (dir_ / "g.resr").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blended with " + (dir_ / "realesr-general-wdn-x4v3.pth").string()), std::string::npos) << r.out;
  // The .resr says what it was made of: its weights are the blend, which its source's name does not say.
  r = run("info -m " + (dir_ / "g.resr").string());
  EXPECT_NE(r.out.find("realesr-general-x4v3.pth blended with " + (dir_ / "realesr-general-wdn-x4v3.pth").string() +
                       " (dn 0.5)"),
            std::string::npos)
      << r.out;
  r = run("convert " + general + " -dn 1 -o " + (dir_ / "g1.resr").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("blended with"), std::string::npos) << r.out;
  // Said once the output is written: a refused one is the only line (it followed the blend's, as if under way).
  r = run("convert " + general + " -o " + (dir_ / "realesr-general-wdn-x4v3.pth").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  r = run("calibrate " + general + " -i " + test::data_path("x4fast_37x29.in.png") + " --num 1 --tile 16 -o " +
          (dir_ / "g.calib").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blended with "), std::string::npos) << r.out;
  // A table of the file alone (-dn 1) does not fit the blended model: the error says how to match them. The twin
  // here differs from the model (its last weight changed), so the blend is another model.
  const fs::path st = dir_ / "st";
  fs::create_directories(st);
  fs::copy_file(fixture("srvgg_x4_prelu.safetensors"), st / "realesr-general-x4v3.safetensors");
  std::string twin = test::slurp(fixture("srvgg_x4_prelu.safetensors"));
  twin.replace(twin.size() - 4, 4, std::string("\0\0\0\x3f", 4));  // 0.5f
  std::ofstream(st / "realesr-general-wdn-x4v3.safetensors", std::ios::binary) << twin;
  const std::string blended = "-m " + (st / "realesr-general-x4v3.safetensors").string();
  r = run("calibrate " + blended + " -dn 1 -i " + test::data_path("x4fast_37x29.in.png") + " --num 1 --tile 16 -o " +
          (dir_ / "alone.calib").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_one_line_error(run("convert " + blended + " --precision int8 --calib " + (dir_ / "alone.calib").string() +
                            " -o " + (dir_ / "g8.resr").string()),
                        "a table of the file alone needs -dn 1 here too");
  EXPECT_EQ(run("convert " + blended + " -dn 1 --precision int8 --calib " + (dir_ / "alone.calib").string() + " -o " +
                (dir_ / "g8.resr").string())
                .exit_code,
            0);
  // --dn-model with another model needs -dn: it was ignored, even when the file was missing.
  expect_one_line_error(
      run("info -m " + fixture("srvgg_x4_prelu.pth") + " --dn-model " + (dir_ / "missing.pth").string()),
      "--dn-model (dn_model) needs -dn (denoise_strength)");
}

// SRVGGNetCompact weights without PReLU slopes: ReLU is assumed and said; --act leakyrelu runs the model as
// trained (its output then differs), and info describes it so.
TEST_F(CliFormats, AssumedActivationIsSaidAndCanBeGiven) {
  const std::string m = " -m " + fixture("srvgg_x1_leakyrelu.pth");
  const std::string in = " -i " + test::data_path("x4fast_37x29.in.png");
  const std::string relu = (dir_ / "relu.png").string(), leaky = (dir_ / "leaky.png").string();
  test::RunResult r = run("upscale" + in + " -o " + relu + m);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ReLU assumed"), std::string::npos) << r.err;
  r = run("upscale" + in + " -o " + leaky + m + " --act leakyrelu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("assumed"), std::string::npos) << r.err;
  EXPECT_NE(test::slurp(relu), test::slurp(leaky));
  r = run("info" + m + " --act leakyrelu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("act leakyrelu)"), std::string::npos) << r.out;
  EXPECT_NE(run("info" + m + " --act gelu").exit_code, 0);
  // A model whose activation is in the file (PReLU slopes here; a graph file): --act was taken and ignored.
  for (const std::string& known : {fixture("srvgg_x4_prelu.pth"), fixture("rrdb_x2.safetensors")}) {
    r = run("upscale" + in + " -o " + (dir_ / "never.png").string() + " -m " + known + " --act leakyrelu");
    EXPECT_EQ(r.err, "resr: " + known +
                         ": --act (activation) applies to SRVGGNetCompact weights without PReLU slopes; this model's "
                         "activation is in the file\n");
    EXPECT_FALSE(fs::exists(dir_ / "never.png"));
  }
  // convert writes the activation into the .resr: said there too, and --act reaches it.
  r = run("convert" + m + " -o " + (dir_ / "l.resr").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ReLU assumed"), std::string::npos) << r.err;
  r = run("convert" + m + " --act leakyrelu -o " + (dir_ / "l2.resr").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("assumed"), std::string::npos) << r.err;
  r = run("upscale" + in + " -o " + (dir_ / "leaky2.png").string() + " -m " + (dir_ / "l2.resr").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::slurp(leaky), test::slurp((dir_ / "leaky2.png").string()));
}

TEST_F(CliFormats, BadModelFilesGiveOneLine) {
  test::PickleWriter p;
  p.proto().global("os", "system").mark().str("echo pwned").tuple().reduce().stop();
  const std::string evil = write("evil.pth", test::make_zip({{"archive/data.pkl", p.out}}));
  expect_one_line_error(run("info -m " + evil), "refusing global 'os.system'");

  std::ifstream f(fixture("rrdb_x4.pth"), std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() / 2);
  const std::string cut = write("cut.pth", bytes);
  expect_one_line_error(run("info -m " + cut), "cut.pth: ");

  const std::string bad_st = write("bad.safetensors", {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '});
  expect_one_line_error(run("info -m " + bad_st), "bad.safetensors: ");

  // Unknown architecture: a valid safetensors file with other keys.
  const std::string json = R"({"conv1.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::vector<std::uint8_t> st(8, 0);
  st[0] = std::uint8_t(json.size());
  st.insert(st.end(), json.begin(), json.end());
  st.insert(st.end(), 4, 0);
  const std::string other = write("other.safetensors", st);
  expect_one_line_error(run("info -m " + other), "unknown architecture: found conv1.weight [1]");

  const std::string out = (dir_ / "out.png").string();
  const test::RunResult r = run("upscale -i " + test::data_path("x4fast_37x29.in.png") + " -o " + out + " -m " + cut);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace resr

namespace resr {
namespace {

TEST_F(CliFormats, PixelUnshuffleModelsTakeOddSizedImages) {
  // x2 and x1 RRDBNet start with a pixel unshuffle by 2 or 4: odd sizes are reflect-padded and cropped back.
  Image img;
  img.width = 9;
  img.height = 7;
  img.channels = 3;
  img.bytes.resize(img.sample_count());
  for (std::size_t i = 0; i < img.bytes.size(); ++i) img.bytes[i] = std::uint8_t(i * 13 % 251);
  const std::string in = (dir_ / "odd.png").string();
  ASSERT_TRUE(write_image_file(img, in, ImageFormat::kPng, {}).ok());
  for (auto [model, scale] : {std::pair{"rrdb_x2.pth", 2}, std::pair{"rrdb_x1.safetensors", 1}}) {
    const fs::path out = dir_ / (std::string(model) + ".png");
    const test::RunResult r = run("upscale -i " + in + " -o " + out.string() + " -m " + fixture(model));
    ASSERT_EQ(r.exit_code, 0) << model << ": " << r.err;
    auto up = read_image_file(out.string());
    ASSERT_TRUE(up.ok());
    EXPECT_EQ(up->width, 9 * scale) << model;
    EXPECT_EQ(up->height, 7 * scale) << model;
  }
}

}  // namespace
}  // namespace resr
