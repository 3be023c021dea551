// `resr` run as a user runs it. Bad input must give exactly one line on stderr naming the file, a non-zero
// exit code, and no output file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>

#include "backends/cpu/float_products.h"
#include "image/codec.h"
#include "image/metadata.h"
#include "support/cli_run.h"
#include "support/exif_blobs.h"
#include "support/paths.h"
#include "support/scoped_env.h"

namespace resr {
namespace {
namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_cli_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  test::RunResult run(const std::string& args) { return test::run_resr(dir_, args); }

  // A small image written with our own encoder (channels 1..4).
  std::string make_image(const std::string& name, int channels, int w = 9, int h = 7) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.bits = 8;
    img.bytes.resize(img.sample_count());
    for (std::size_t i = 0; i < img.bytes.size(); ++i) img.bytes[i] = std::uint8_t((i * 37) % 251);
    std::string path = (dir_ / name).string();
    auto format = format_from_extension(path);
    EXPECT_TRUE(format.ok());
    EXPECT_TRUE(write_image_file(img, path, *format, {}).ok());
    return path;
  }

  std::string write_file(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }

  // A copy of the x4fast model in its own folder, with the .param text edited and the .bin resized.
  std::string broken_model(const std::string& from, const std::string& to, long bin_delta = 0) {
    const fs::path src = fs::path(test::model_dir());
    std::string param = test::slurp(src / "realesrgan-x4fast.param");
    std::string bin = test::slurp(src / "realesrgan-x4fast.bin");
    if (!from.empty()) {
      const std::size_t pos = param.find(from);
      EXPECT_NE(pos, std::string::npos);
      param.replace(pos, from.size(), to);
    }
    if (bin_delta < 0) bin.resize(bin.size() + bin_delta);
    if (bin_delta > 0) bin.append(std::size_t(bin_delta), '\0');
    write_file("broken.bin", bin);
    return write_file("broken.param", param);
  }

  // The common assertions for a refused run.
  void expect_refused(const test::RunResult& r, const std::string& names, const fs::path& output) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(names), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(output)) << output;
    for (const auto& entry : fs::directory_iterator(dir_))
      EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }

  std::string model_args() const { return "-m " + test::model_dir() + " -n x4fast"; }

  fs::path dir_;
};

TEST_F(CliTest, UpscalesRgbGrayAndRgbaKeepingTheLayout) {
  for (int channels : {1, 2, 3, 4}) {
    const std::string in = make_image("in" + std::to_string(channels) + ".png", channels);
    const fs::path out = dir_ / ("out" + std::to_string(channels) + ".png");
    test::RunResult r = run("upscale -i " + in + " -o " + out.string() + " " + model_args());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto img = read_image_file(out.string());
    ASSERT_TRUE(img.ok()) << img.status().message();
    EXPECT_EQ(img->width, 36);
    EXPECT_EQ(img->height, 28);
    EXPECT_EQ(img->channels, channels);
  }
}

TEST_F(CliTest, OutputMatchesGoldenPngAndFormatFollowsExtension) {
  const fs::path out = dir_ / "golden.png";
  // --fp32: on a machine with a GPU, the FP16 default would not be within one level of the FP32 golden output.
  test::RunResult r =
      run("upscale --fp32 -i " + test::data_path("x4fast_37x29.in.png") + " -o " + out.string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = read_image_file(out.string());
  auto want = read_image_file(test::data_path("x4fast_37x29.out.png"));
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->bytes.size(), want->bytes.size());
  int worst = 0;
  for (std::size_t i = 0; i < got->bytes.size(); ++i) worst = std::max(worst, std::abs(got->bytes[i] - want->bytes[i]));
  EXPECT_LE(worst, 1);
  // --fp32 (FP32 models stay FP32 on the GPU) changes nothing on the CPU, which runs them in FP32 anyway.
  std::vector<std::uint8_t> cpu_bytes[2];
  for (int fp32 = 0; fp32 < 2; ++fp32) {
    const fs::path o = dir_ / (fp32 != 0 ? "fp32.png" : "cpu.png");
    r = run(std::string("upscale --backend cpu") + (fp32 != 0 ? " --fp32" : "") + " -i " +
            test::data_path("x4fast_37x29.in.png") + " -o " + o.string() + " " + model_args());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto image = read_image_file(o.string());
    ASSERT_TRUE(image.ok());
    cpu_bytes[fp32] = image->bytes;
  }
  EXPECT_EQ(cpu_bytes[0], cpu_bytes[1]);
  // --bf16: on a CPU with AVX512_BF16 the convs multiply in bfloat16 (close to, not equal to, fp32); elsewhere
  // one line says it has no effect, and the output is the fp32 one.
  const fs::path bf16_out = dir_ / "bf16.png";
  r = run("upscale --backend cpu --bf16 -i " + test::data_path("x4fast_37x29.in.png") + " -o " + bf16_out.string() +
          " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto bf16 = read_image_file(bf16_out.string());
  ASSERT_TRUE(bf16.ok());
  ASSERT_EQ(bf16->bytes.size(), cpu_bytes[0].size());
  if (cpu::cpu_has_avx512_bf16()) {
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_NE(bf16->bytes, cpu_bytes[0]);
    double sq = 0.0;
    for (std::size_t i = 0; i < bf16->bytes.size(); ++i) {
      const double d = double(bf16->bytes[i]) - double(cpu_bytes[0][i]);
      sq += d * d;
    }
    const double psnr = 10.0 * std::log10(255.0 * 255.0 * double(bf16->bytes.size()) / sq);
    EXPECT_GT(psnr, 35.0);  // measured 47.0 dB mean on photos (docs/quantization.md); this input is small
  } else {
    EXPECT_EQ(r.err, "resr: --bf16: this CPU has no AVX512_BF16; the CPU multiplies in fp32\n");
    EXPECT_EQ(bf16->bytes, cpu_bytes[0]);
  }
  // A TIFF in gives what the PNG gave; a TIFF out holds exactly those pixels.
  auto in_png = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(in_png.ok());
  ASSERT_TRUE(write_image_file(*in_png, (dir_ / "in.tif").string(), ImageFormat::kTiff, {}).ok());
  r = run("upscale --backend cpu -i " + (dir_ / "in.tif").string() + " -o " + (dir_ / "out.tiff").string() + " " +
          model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto tiff = read_image_file((dir_ / "out.tiff").string());
  ASSERT_TRUE(tiff.ok()) << tiff.status().message();
  EXPECT_EQ(tiff->bytes, cpu_bytes[0]);
  for (const char* ext : {"jpg", "webp"}) {
    const fs::path o = dir_ / (std::string("out.") + ext);
    ASSERT_EQ(run("upscale -i " + test::data_path("x4fast_37x29.in.png") + " -o " + o.string() + " " + model_args())
                  .exit_code,
              0);
    auto img = read_image_file(o.string());
    ASSERT_TRUE(img.ok());
    EXPECT_EQ(img->width, 148);
  }
}

// --lossless: a WebP output holds exactly the pixels the PNG output holds (as realesrgan-ncnn-vulkan's WebP
// does); JPEG cannot, and -q contradicts it: both refused before any work.
TEST_F(CliTest, LosslessWebpHoldsExactlyThePngsPixels) {
  const std::string in = test::data_path("x4fast_37x29.in.png");
  std::vector<std::uint8_t> pixels[3];
  const char* outputs[3] = {"out.png", "lossless.webp", "lossy.webp"};
  for (int i = 0; i < 3; ++i) {
    const fs::path o = dir_ / outputs[i];
    const test::RunResult r = run("upscale --backend cpu -i " + in + " -o " + o.string() + " " + model_args() +
                                  (i == 1 ? " --lossless" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto img = read_image_file(o.string());
    ASSERT_TRUE(img.ok()) << img.status().message();
    pixels[i] = img->bytes;
  }
  EXPECT_EQ(pixels[1], pixels[0]);
  EXPECT_NE(pixels[2], pixels[0]);
  // /dev/stdout into a pipe gets the same file (it failed: its link names "pipe:[N]", which no folder holds).
  const test::RunResult piped =
      run("upscale --backend cpu -i " + in + " -o /dev/stdout -f png " + model_args() + " | cat");
  EXPECT_EQ(piped.out, test::slurp((dir_ / "out.png").string())) << piped.err;
  // A descriptor redirected to a file (/dev/stdout, here /dev/fd/4) is written into at its offset, as a shell's >>
  // asks: the old lines stay (it was replaced, following the link to the file). A descriptor open only for reading
  // is refused before any work.
  const fs::path log = dir_ / "log.txt";
  std::ofstream(log) << "kept\n";
  const test::RunResult appended = run("upscale --backend cpu -i " + in + " -o " + (dir_ / "again.png").string() + " " +
                                       model_args() + " --report /dev/fd/4 4>> " + log.string());
  ASSERT_EQ(appended.exit_code, 0) << appended.err;
  const std::string logged = test::slurp(log.string());
  EXPECT_EQ(logged.rfind("kept\n{", 0), 0u) << logged;
  const test::RunResult read_only = run("upscale --backend cpu -i " + in + " -o " + (dir_ / "never.png").string() +
                                        " " + model_args() + " --report /dev/fd/3 3< " + log.string());
  EXPECT_NE(read_only.err.find("/dev/fd/3: cannot write (descriptor 3 is open for reading only)"), std::string::npos)
      << read_only.err;
  EXPECT_FALSE(fs::exists(dir_ / "never.png"));
  test::RunResult r = run("upscale -i " + in + " -o " + (dir_ / "a.jpg").string() + " --lossless " + model_args());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "resr: " + (dir_ / "a.jpg").string() +
                       ": --lossless: JPEG has no lossless mode; write .webp, .png or .tif\n");
  r = run("upscale -i " + in + " -o " + (dir_ / "b").string() + " -f jpg --lossless " + model_args());
  EXPECT_EQ(r.err, "resr: --lossless: JPEG has no lossless mode; use -f webp, png or tif\n");
  r = run("upscale -i " + in + " -o " + (dir_ / "c.webp").string() + " --lossless -q 90 " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("excludes"), std::string::npos) << r.err;
  for (const char* name : {"a.jpg", "b", "c.webp"}) EXPECT_FALSE(fs::exists(dir_ / name)) << name;
}

TEST_F(CliTest, InfoDescribesTheModel) {
  test::RunResult r = run("info " + model_args() + " -v");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SRVGGNetCompact"), std::string::npos);
  EXPECT_NE(r.out.find("scale:          4"), std::string::npos);
  EXPECT_NE(r.out.find("PixelShuffle"), std::string::npos);
}

TEST_F(CliTest, BadImagesAreRefused) {
  const fs::path out = dir_ / "out.png";
  const std::string good = test::slurp(test::data_path("x4fast_37x29.in.png"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.png", ""},
      {"text.jpg", "this is not an image\n"},
      {"truncated.png", good.substr(0, good.size() / 2)},
      {"cut_header.png", good.substr(0, 20)},
      {"random.webp", std::string("RIFF\x10\0\0\0WEBPVP8 garbage", 23)},  // the embedded zeros too
  };
  for (const auto& [name, bytes] : cases) {
    const std::string in = write_file(name, bytes);
    SCOPED_TRACE(name);
    expect_refused(run("upscale -i " + in + " -o " + out.string() + " " + model_args()), in + ":", out);
  }
  expect_refused(run("upscale -i " + (dir_ / "missing.png").string() + " -o " + out.string() + " " + model_args()),
                 "missing.png: cannot open", out);
  // A FIFO: opening it waited for a writer, forever (Ctrl-C too only asked to stop after the current tile).
  const std::string fifo = (dir_ / "fifo.png").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_refused(run("upscale -i " + fifo + " -o " + out.string() + " " + model_args()), "not a regular file", out);
  if (fs::exists(fs::path(RESR_BINARY).parent_path() / "libresr_video.so")) {  // FFmpeg's open waited the same way
    const std::string fifo_video = (dir_ / "fifo.mp4").string();
    ASSERT_EQ(::mkfifo(fifo_video.c_str(), 0600), 0);
    const fs::path out_video = dir_ / "out.mp4";
    expect_refused(run("upscale -i " + fifo_video + " -o " + out_video.string() + " " + model_args()),
                   "not a regular file", out_video);
  }
}

TEST_F(CliTest, BadModelsAreRefused) {
  const std::string in = make_image("in.png", 3);
  const fs::path out = dir_ / "out.png";
  struct Case {
    const char* what;
    std::string from, to;
    long bin_delta;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"syntax error", "0=64 1=3 4=1 5=1 6=1728", "0=64 1=3 4=1 5 6=1728", 0, "broken.param: line 5"},
      {"unknown layer", "PReLU            PRelu_1", "Swish            PRelu_1", 0, "unknown layer type 'Swish'"},
      {"weights too short", "", "", -100, "broken.bin: "},
      {"weights too long", "", "", 64, "too long"},
      {"shapes do not add up", "6=36864", "6=27648", 0, "weights expect 48 input channels"},
      {"not a param file", "7767517", "garbage", 0, "not an ncnn param file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string param = broken_model(c.from, c.to, c.bin_delta);
    expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + param), c.message, out);
  }
  expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + test::model_dir() + " -n nosuchmodel"),
                 "model 'nosuchmodel' not found", out);
  expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + (dir_ / "none.param").string()),
                 "none.param: model file not found", out);
  // A folder without a name, a missing model folder, and a file name given where a name may go say so.
  expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + test::model_dir()),
                 "is a folder: name a model in it with -n NAME", out);
  expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + (dir_ / "nofolder").string() + "/ -n x"),
                 "model folder not found", out);
  expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + test::model_dir() + " -n gone.resr"),
                 "gone.resr: model file not found (nor a model of that name in", out);
  // A file that is there, given as a name, was said not to be found.
  for (const std::string& name :
       {std::string("realesrgan-x4fast.param"), test::model_dir() + "/realesrgan-x4fast.param"})
    expect_refused(run("upscale -i " + in + " -o " + out.string() + " -n " + name),
                   name + ": a file, where a model's name is wanted: give a model file with -m", out);
  // A FIFO as the model: opening it waited for a writer, through a first Ctrl-C or TERM.
  const std::string fifo = (dir_ / "fifo.param").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_refused(run("upscale -i " + in + " -o " + out.string() + " -m " + fifo),
                 "fifo.param: not a regular file (a pipe or device), not a model file", out);
  // A folder as the denoise twin was "an empty file (0 bytes)"; a missing one without an extension gave no reason.
  const std::string denoise = " " + model_args() + " -dn 0.5 --dn-model ";
  expect_refused(run("upscale -i " + in + " -o " + out.string() + denoise + dir_.string()),
                 dir_.string() + ": is a folder, not a model file", out);
  expect_refused(run("upscale -i " + in + " -o " + out.string() + denoise + (dir_ / "x4fast").string()),
                 "x4fast: cannot open: No such file or directory", out);
}

// RESR_IMPL that names no kernel (a typo) is refused: it quietly ran the default kernels in a run meant to measure
// another.
TEST_F(CliTest, AForcedKernelOfNoNameIsRefused) {
  const std::string in = make_image("in.png", 3);
  const fs::path out = dir_ / "out.png";
  ::setenv("RESR_IMPL", "winogard63", 1);
  const test::RunResult typo = run("upscale --backend cpu -i " + in + " -o " + out.string() + " " + model_args());
  ::setenv("RESR_IMPL", "direct", 1);
  const test::RunResult direct = run("upscale --backend cpu -i " + in + " -o " + out.string() + " " + model_args());
  ::unsetenv("RESR_IMPL");
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("RESR_IMPL=winogard63 names no CPU kernel"), std::string::npos) << typo.err;
  EXPECT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(CliTest, UnsupportedOutputAndMissingFolderLeaveNothing) {
  const std::string in = make_image("in.png", 3);
  expect_refused(run("upscale -i " + in + " -o " + (dir_ / "out.bmp").string() + " " + model_args()),
                 "out.bmp: unsupported output extension", dir_ / "out.bmp");
  // An input that is no video, asked to become one, is named (the output's extension was blamed).
  const std::string gif = write_file("anim.gif", "GIF89a");
  expect_refused(run("upscale -i " + gif + " -o " + (dir_ / "out.mkv").string() + " " + model_args()),
                 "anim.gif: not a video by its extension (.mp4, .mkv, .mov, .webm, ...), so it cannot become the video",
                 dir_ / "out.mkv");
  // A video plugin of another build (here a library that is none) is refused by name, before it is called.
  {
    const test::ScopedEnv other("RESR_VIDEO_PLUGIN", "libz.so.1");
    const std::string clip = write_file("clip.mp4", "not read");
    expect_refused(run("upscale -i " + clip + " -o " + (dir_ / "clip_x4.mp4").string() + " " + model_args()),
                   "libz.so.1 has no resr_upscale_video_v", dir_ / "clip_x4.mp4");
  }
  const fs::path nested = dir_ / "no" / "such" / "dir" / "out.png";
  test::RunResult r = run("upscale -i " + in + " -o " + nested.string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(nested.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(nested));
}

TEST_F(CliTest, BenchPrintsJson) {
  test::RunResult r = run("bench " + model_args() + " --size 16x12 --iters 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"best_ms\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"first_run_ms\""), std::string::npos) << r.out;  // plans and compiles included
  EXPECT_NE(r.out.find("[16,12]"), std::string::npos) << r.out;
  // The backend that ran, not the one asked for.
  r = run("bench " + model_args() + " --size 16x12 --iters 1 --json --backend auto");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("\"backend\":\"auto\""), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.find("\"backend\":\"cpu\"") != std::string::npos ||
              r.out.find("\"backend\":\"cuda\"") != std::string::npos)
      << r.out;
  EXPECT_NE(run("bench " + model_args() + " --size 0x5").exit_code, 0);
  const test::RunResult big = run("bench " + model_args() + " --size 9000x16");
  EXPECT_NE(big.exit_code, 0);
  EXPECT_EQ(big.err, "resr: --size: 9000x16 is too large (at most 8192 on each side)\n");
  EXPECT_EQ(run("bench " + model_args() + " --size 16x12 --iters 1 --fp32").exit_code, 0);
  EXPECT_NE(run("bench " + model_args() + " --size 16x12junk").exit_code, 0);
  // 2^32 + 8 wrapped to 8 and ran an 8x8 bench.
  const test::RunResult wrapped = run("bench " + model_args() + " --size 4294967304x8 --iters 1");
  EXPECT_EQ(wrapped.err, "resr: --size: expected WxH, e.g. 128x128, got '4294967304x8'\n");
  // With --layers the table goes to stderr: stdout is the JSON object alone.
  r = run("bench " + model_args() + " --size 16x12 --iters 1 --json --layers");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.front(), '{') << r.out;
  EXPECT_NE(r.err.find("eff. GFLOP/s"), std::string::npos) << r.err;
  // An x2 model (pixel-unshuffle by 2) at an odd size: timed at the padded size, as upscale runs it, with a note.
  r = run("bench -m " + test::data_path("fixtures/rrdb_x2.pth") + " --size 15x9 --iters 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("multiples of 2 (upscale pads to one): timing 16x10"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("[16,10]"), std::string::npos) << r.out;
  // --out and --exclude belong to --contest: refused without it, not ignored.
  r = run("bench " + model_args() + " --size 16x12 --iters 1 --out " + (dir_ / "kept").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--out requires --contest"), std::string::npos) << r.err;
  r = run("bench " + model_args() + " --size 16x12 --iters 1 --exclude 'x*'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--exclude requires --contest"), std::string::npos) << r.err;
}

// A misspelt option is named before a missing one (CLI11 checks requirements first); a missing one alone is named.
TEST_F(CliTest, AnUnknownOptionIsNamedBeforeAMissingOne) {
  test::RunResult r = run("upscale --inptu a.png");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not expected: a.png --inptu"), std::string::npos) << r.err;
  r = run("upscale -o " + (dir_ / "out.png").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--input is required"), std::string::npos) << r.err;
}

// Numbers the range checks let through are refused by option: NaN (every comparison with it is false), trailing
// text; a size out of reach names the sizes.
TEST_F(CliTest, OddNumbersAreRefusedByOption) {
  const std::string in = make_image("in.png", 3, 9, 7), out = (dir_ / "out.png").string();
  const std::string up = "upscale -i " + in + " -o " + out + " " + model_args();
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {" -s nan", "--scale: not a number: nan"},
           {" -dn nan", "--dn: not a number: nan"},
           {" -j 1:1:1junk", "-j: expected load:proc:save thread counts"},
           {" -j 4294967298:1:1", "-j: expected load:proc:save thread counts"},  // wrapped to 2
           {" --width 36865", "output 36865x28673 is more than 6 passes of the x4 model can reach from 9x7"},
           {" -t 64 --tile-memory 100", "--tile-memory sizes automatic tiles and -t 64 fixes them"}}) {
    const test::RunResult r = run(up + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(says), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
}

}  // namespace
}  // namespace resr

namespace resr {
namespace {

// A file name with a newline or another control character stays on the error's one line, as an escape.
TEST_F(CliTest, ControlCharactersInANameAreEscaped) {
  const std::string missing = (dir_ / "bad\nname\x1b.png").string();
  const test::RunResult r = run("upscale -i '" + missing + "' -o " + (dir_ / "o.png").string() + " " + model_args());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "resr: " + (dir_ / "bad\\nname\\x1b.png").string() + ": cannot open: No such file or directory\n");
}

// A refused folder run makes no output folder (an empty one was left by each of these).
TEST_F(CliTest, ARefusedFolderRunMakesNoFolder) {
  const fs::path in_dir = dir_ / "in", out_dir = dir_ / "out";
  fs::create_directories(in_dir);
  fs::rename(make_image("a.png", 3), in_dir / "a.png");
  const std::string run_folder = "upscale -i " + in_dir.string() + " -o " + out_dir.string();
  for (const std::string& refused :
       {run_folder + " --lossless -f jpg " + model_args(), run_folder + " -m " + (dir_ / "none.param").string(),
        run_folder + " --report " + (in_dir / "a.png").string() + " " + model_args()}) {
    const test::RunResult r = run(refused);
    EXPECT_EQ(r.exit_code, 1) << refused << ": " << r.err;
    EXPECT_FALSE(fs::exists(out_dir)) << refused;
  }
  EXPECT_EQ(run(run_folder + " " + model_args()).exit_code, 0);
  EXPECT_TRUE(fs::exists(out_dir / "a.png"));
}

TEST_F(CliTest, FolderWithACorruptFileGoesOnAndReports) {
  const fs::path in_dir = dir_ / "in", out_dir = dir_ / "out";
  fs::create_directories(in_dir);
  for (const char* name : {"a.png", "c.jpg"}) {
    const std::string p = make_image(name, 3);
    fs::rename(p, in_dir / name);
  }
  std::ofstream(in_dir / "b.png", std::ios::binary) << "not a png at all";
  std::ofstream(in_dir / "notes.txt") << "ignored";
  fs::copy_file(in_dir / "a.png", in_dir / "photo");        // left out unseen before: now named in a note
  std::ofstream(in_dir / ".hidden") << "ignored";           // not named
  fs::create_symlink(dir_ / "gone.png", in_dir / "d.png");  // a dangling link fails as a file, not left out unseen
  const fs::path report = dir_ / "report.json";
  test::RunResult r = run("upscale -i " + in_dir.string() + " -o " + out_dir.string() + " " + model_args() +
                          " -j 1:4:2 --profile --report " + report.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(fs::exists(out_dir / "a.png"));
  EXPECT_TRUE(fs::exists(out_dir / "c.png"));
  EXPECT_FALSE(fs::exists(out_dir / "b.png"));
  EXPECT_NE(r.err.find("b.png: not a PNG, JPEG, WebP or TIFF image"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("d.png: cannot open: No such file or directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 of 4 images failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resr: note: " + in_dir.string() +
                       ": 2 files are neither images nor videos by their extension (.png, .jpg, .webp, .tif, .mp4, "
                       "...) and left out: notes.txt, photo\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("inference"), std::string::npos) << r.out;  // the --profile table
  const std::string json = test::slurp(report);
  for (const char* key : {"\"schema\": \"resr-report\"", "\"version\": 1", "\"file_bytes\"", "\"decode\"",
                          "\"preprocess\"", "\"inference\"", "\"postprocess\"", "\"encode\"", "\"failed\": 2",
                          "\"wall_ms\"", "\"load_ms\"", "\"compile_ms\"", "\"compute_threads\": "})
    EXPECT_NE(json.find(key), std::string::npos) << key;
  // The two files that failed to decode have no sizes (they were given as zeros).
  std::size_t sizes = 0;
  for (std::size_t at = json.find("\"input_size\""); at != std::string::npos; at = json.find("\"input_size\"", at + 1))
    ++sizes;
  EXPECT_EQ(sizes, 2u) << json;
  // The threads run, not those asked for: no more process threads than the four images.
  EXPECT_NE(json.find("\"threads\": \"1:4:2\""), std::string::npos) << json;
}

// A TIFF of several pages gives its first, and says so (a scan whose first page is a thumbnail was upscaled from
// it unsaid); the report counts the others.
TEST_F(CliTest, TheFirstOfSeveralTiffPagesIsSaid) {
  const fs::path report = dir_ / "pages.json";
  const test::RunResult r = run("upscale -i " + test::data_path("two_pages_gray.tif") + " -o " +
                                (dir_ / "page.png").string() + " " + model_args() + " --report " + report.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("two_pages_gray.tif: the file holds 2 images (pages); only the first is upscaled"),
            std::string::npos)
      << r.err;
  EXPECT_NE(test::slurp(report).find("\"other_images\": 1"), std::string::npos);
  const test::RunResult one =
      run("upscale -i " + make_image("one.png", 1) + " -o " + (dir_ / "one_x4.png").string() + " " + model_args());
  EXPECT_EQ(one.err.find("pages"), std::string::npos) << one.err;
}

// An image with alpha written as JPEG loses its alpha: said, not silent; a PNG keeps it and says nothing.
TEST_F(CliTest, AlphaLeftOutOfAJpegIsSaid) {
  const std::string in = make_image("rgba.png", 4);
  test::RunResult r = run("upscale -i " + in + " -o " + (dir_ / "out.jpg").string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("out.jpg: the alpha channel is left out (JPEG holds none"), std::string::npos) << r.err;
  r = run("upscale -i " + in + " -o " + (dir_ / "out.png").string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("alpha channel is left out"), std::string::npos) << r.err;
  // So is EXIF over the 64 KB a JPEG holds (it was left out unsaid).
  Image big_exif;
  big_exif.width = 5;
  big_exif.height = 4;
  big_exif.channels = 3;
  big_exif.bytes.assign(big_exif.sample_count(), 99);
  big_exif.exif = resr::testing::make_exif(false, 1, 70000);
  const std::string with_exif = (dir_ / "exif.png").string();
  ASSERT_TRUE(write_image_file(big_exif, with_exif, ImageFormat::kPng, {}).ok());
  r = run("upscale -i " + with_exif + " -o " + (dir_ / "exif.jpg").string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("exif.jpg: the EXIF is left out (over the 64 KB a JPEG holds"), std::string::npos) << r.err;
  r = run("upscale -i " + with_exif + " -o " + (dir_ / "exif.webp").string() + " " + model_args());
  EXPECT_EQ(r.err.find("EXIF is left out"), std::string::npos) << r.err;
  // And XMP over 64 KB, which the output otherwise carries (it was left out of every output, unsaid).
  Image big_xmp = big_exif;
  big_xmp.exif.clear();
  big_xmp.xmp.assign(70000, 'x');
  const std::string with_xmp = (dir_ / "xmp.png").string();
  ASSERT_TRUE(write_image_file(big_xmp, with_xmp, ImageFormat::kPng, {}).ok());
  r = run("upscale -i " + with_xmp + " -o " + (dir_ / "xmp.jpg").string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("xmp.jpg: the XMP is left out (over the 64 KB a JPEG holds"), std::string::npos) << r.err;
  const std::string out_webp = (dir_ / "xmp.webp").string();
  r = run("upscale -i " + with_xmp + " -o " + out_webp + " " + model_args());
  EXPECT_EQ(r.err.find("XMP is left out"), std::string::npos) << r.err;
  Result<Image> webp = read_image_file(out_webp);
  ASSERT_TRUE(webp.ok());
  EXPECT_EQ(webp->xmp, big_xmp.xmp);
  // A gray image's profile, which WebP (RGB only) cannot hold, is said too; a PNG keeps it, unsaid.
  Image gray = big_exif;
  gray.exif.clear();
  gray.channels = 1;
  gray.bytes.assign(gray.sample_count(), 99);
  gray.icc_profile.assign(200, 0);
  std::memcpy(gray.icc_profile.data() + 16, "GRAY", 4);
  const std::string gray_in = (dir_ / "gray.tif").string();
  ASSERT_TRUE(write_image_file(gray, gray_in, ImageFormat::kTiff, {}).ok());
  r = run("upscale -i " + gray_in + " -o " + (dir_ / "gray.webp").string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("gray.webp: the ICC profile is left out"), std::string::npos) << r.err;
  r = run("upscale -i " + gray_in + " -o " + (dir_ / "gray.tif.png").string() + " " + model_args());
  EXPECT_EQ(r.err.find("ICC profile is left out"), std::string::npos) << r.err;
  // A PNG's linear gamma, which a JPEG cannot state: said, and in the report; a PNG output keeps it, unsaid.
  Image linear = gray;
  linear.icc_profile.clear();
  linear.png_colour.gamma = 100000;
  const std::string linear_in = (dir_ / "linear.png").string();
  ASSERT_TRUE(write_image_file(linear, linear_in, ImageFormat::kPng, {}).ok());
  const std::string report = (dir_ / "colour.json").string();
  r = run("upscale -i " + linear_in + " -o " + (dir_ / "linear.jpg").string() + " " + model_args() + " --report " +
          report);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("linear.jpg: the input's PNG colour space (a gAMA or cHRM chunk unlike sRGB) is left out "
                       "(only a .png output keeps it)"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(nlohmann::json::parse(test::slurp(report))["images"][0].value("colour_dropped", false));
  const std::string linear_out = (dir_ / "linear_x4.png").string();
  r = run("upscale -i " + linear_in + " -o " + linear_out + " " + model_args());
  EXPECT_EQ(r.err.find("gAMA"), std::string::npos) << r.err;
  Result<Image> kept = read_image_file(linear_out);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->png_colour.gamma, 100000);
}

// Each image's report gives the tile core its first pass used: -t fitted to the image, or what automatic chose.
TEST_F(CliTest, ReportGivesTheTileSizeUsed) {
  const std::string in = make_image("in.png", 3, 9, 7), out = (dir_ / "out.png").string();
  const fs::path report = dir_ / "report.json";
  for (const auto& [tile, w, h] : {std::tuple{"4", 3, 4}, std::tuple{"0", 9, 7}}) {
    test::RunResult r =
        run("upscale -i " + in + " -o " + out + " " + model_args() + " -t " + tile + " --report " + report.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(test::slurp(report));
    EXPECT_EQ(j["settings"]["tile"], std::stoi(tile));
    EXPECT_EQ(j["images"][0]["tile_size"], nlohmann::json::array({w, h})) << "-t " << tile;
    EXPECT_EQ(j["images"][0]["tiles"], std::stoi(tile) == 0 ? 1 : 6);
  }
}

// Refusals before any work leave nothing behind: an unknown command is named; a folder run refused for its
// names creates no output folder; a report that cannot be written is refused before the images are upscaled.
TEST_F(CliTest, RefusalsComeBeforeAnyWork) {
  test::RunResult r = run("upscal -i a.png -o b.png");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown command 'upscal' (commands: upscale"), std::string::npos) << r.err;
  const fs::path in_dir = dir_ / "in", out_dir = dir_ / "new" / "out";
  fs::create_directories(in_dir);
  for (const char* name : {"a.png", "a.jpg"}) fs::rename(make_image(name, 3), in_dir / name);
  r = run("upscale -i " + in_dir.string() + " -o " + out_dir.string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "new")) << r.err;
  fs::remove(in_dir / "a.jpg");
  r = run("upscale -i " + in_dir.string() + " -o " + out_dir.string() + " " + model_args() + " --report " +
          (dir_ / "no" / "such" / "r.json").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("r.json: cannot write"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out_dir / "a.png"));
  // A name longer than the folder takes failed only when the finished image was written; a folder's output
  // names are checked likewise (-f webp adds a byte to a 255-byte name).
  const std::string long_name = std::string(251, 'x') + ".png";  // 255 bytes
  r = run("upscale -i " + make_image("a.png", 3) + " -o " + (dir_ / long_name).string() + ".webp -m /missing.pth");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(long_name + ".webp: file name too long (260 bytes; the folder takes at most 255)"),
            std::string::npos)
      << r.err;
  fs::rename(make_image("b.png", 3), in_dir / long_name);
  r = run("upscale -i " + in_dir.string() + " -o " + out_dir.string() + " -f webp " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(std::string(251, 'x') + ".webp: file name too long (256 bytes"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "new")) << r.err;
}

// a.png and a.jpg in one folder would both be written to a.png: refused before any work; -f auto keeps each
// image's own format (and so its own name).
TEST_F(CliTest, FolderOutputNamesNeverClash) {
  const fs::path in_dir = dir_ / "in", out_dir = dir_ / "out";
  fs::create_directories(in_dir);
  for (const char* name : {"a.png", "a.jpg", "b.TIF"}) {
    const std::string p = make_image(name, 3);
    fs::rename(p, in_dir / name);
  }
  test::RunResult r = run("upscale -i " + in_dir.string() + " -o " + out_dir.string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("would both be written to " + (out_dir / "a.png").string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out_dir)) << "nothing upscaled, no folder made";
  r = run("upscale -f auto -i " + in_dir.string() + " -o " + out_dir.string() + " " + model_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"a.png", "a.jpg", "b.TIF"}) {
    auto img = read_image_file((out_dir / name).string());
    ASSERT_TRUE(img.ok()) << name << ": " << img.status().message();
    EXPECT_EQ(img->width, 4 * 9) << name;
  }
  const auto magic = [](const fs::path& p) { return test::slurp(p).substr(0, 3); };
  EXPECT_EQ(magic(out_dir / "a.jpg"), "\xff\xd8\xff");
  EXPECT_EQ(magic(out_dir / "b.TIF"), std::string("II*"));
}

// An output that is its input would replace the original: refused, the input untouched, in folder mode (-o the
// same folder) and for one file.
TEST_F(CliTest, AnOutputThatIsItsInputIsRefused) {
  const fs::path in_dir = dir_ / "in";
  fs::create_directories(in_dir);
  fs::rename(make_image("a.png", 3), in_dir / "a.png");
  const std::string before = test::slurp(in_dir / "a.png");
  test::RunResult r = run("upscale -i " + in_dir.string() + " -o " + in_dir.string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the output would overwrite its input"), std::string::npos) << r.err;
  const std::string one = (in_dir / "a.png").string();
  r = run("upscale -i " + one + " -o " + (in_dir / "." / "a.png").string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the output would overwrite its input " + one), std::string::npos) << r.err;
  EXPECT_EQ(test::slurp(in_dir / "a.png"), before);
  // Another format in the same folder is another file: done.
  r = run("upscale -i " + in_dir.string() + " -o " + in_dir.string() + " -f jpg " + model_args());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(in_dir / "a.jpg"));
}

// Files written besides the outputs (--report, bench's --json and --contest --out) never replace an input, an output
// or the model: refused before any work (each was overwritten, and the run said nothing).
TEST_F(CliTest, ReportsAndJsonNeverOverwriteInputsOutputsOrTheModel) {
  const fs::path in = dir_ / "in";
  fs::create_directories(in);
  fs::rename(make_image("a.png", 3), in / "a.png");
  fs::create_directories(dir_ / "out");
  fs::copy_file(test::model_dir() + "/realesrgan-x4fast.param", dir_ / "m.param");
  fs::copy_file(test::model_dir() + "/realesrgan-x4fast.bin", dir_ / "m.bin");
  const std::string before = test::slurp(in / "a.png"), model = test::slurp(dir_ / "m.param");
  const std::string one = " -i " + (in / "a.png").string() + " -o " + (dir_ / "b.png").string();
  for (const auto& [args, what] :
       {std::pair{one + " " + model_args() + " --report " + (in / "a.png").string(), "the input"},
        std::pair{one + " " + model_args() + " --report " + (dir_ / "b.png").string(), "the output"},
        std::pair{" -i " + in.string() + " -o " + (dir_ / "out").string() + " " + model_args() + " --report " +
                      (dir_ / "out" / "a.png").string(),
                  "the output"},
        std::pair{one + " -m " + (dir_ / "m.param").string() + " --report " + (dir_ / "m.bin").string(),
                  "the model file"}}) {
    const test::RunResult r = run("upscale" + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(std::string("would overwrite ") + what), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "b.png"));
  }
  // A folder where no file can be made (access() says yes to root there): refused before the work, not after it.
  test::RunResult r = run("upscale" + one + " " + model_args() + " --report /proc/resr_report.json");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/proc/resr_report.json: cannot write"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "b.png"));
  r = run("upscale" + one + " " + model_args() + " --report " + (in / "a.png" / "r.json").string());
  EXPECT_NE(r.err.find("a.png is not a folder"), std::string::npos) << r.err;
  r = run("bench -m " + (dir_ / "m.param").string() + " --size 8x8 --iters 1 --json " + (dir_ / "m.param").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("would overwrite the model file"), std::string::npos) << r.err;
  EXPECT_EQ(test::slurp(dir_ / "m.param"), model);
  r = run("bench --contest " + in.string() + " --out " + in.string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("the contest's own folder"), std::string::npos) << r.err;
  EXPECT_EQ(test::slurp(in / "a.png"), before);
  fs::copy_file(in / "a.png", in / "a.jpg");  // not a JPEG inside: refused before it is read
  r = run("bench --contest " + in.string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("would both be written as a.png"), std::string::npos) << r.err;
  fs::remove(in / "a.jpg");
  // --json FILE that cannot be written: a contest says so before it runs (it did after every image); a write that
  // fails (a full disk: /dev/full) is said, not exit 0 with an empty file.
  r = run("bench --contest " + in.string() + " " + model_args() + " --json " + (dir_ / "out").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out.find("contest:"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("out: is a folder"), std::string::npos) << r.err;
  // The random input's options with --contest, which has no use for them: refused (they were ignored).
  r = run("bench --contest " + in.string() + " " + model_args() + " --size 16x16");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--size excludes --contest"), std::string::npos) << r.err;
  r = run("bench " + model_args() + " --size 8x8 --iters 1 --warmup 0 --json /dev/full");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/dev/full: "), std::string::npos) << r.err;
}

TEST_F(CliTest, ScaleTileAndFormatOptions) {
  const std::string in = make_image("in.png", 3, 20, 10);
  const fs::path out = dir_ / "out";  // no extension: -f names the format
  test::RunResult r =
      run("upscale -i " + in + " -o " + out.string() + " " + model_args() + " -s 3.5 -t 8 --tile-pad 34 -f jpg -q 80");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resr: note: -t 8 is small"), std::string::npos) << r.err;  // done, but a likely slip
  EXPECT_EQ(test::slurp(out).substr(0, 3), "\xff\xd8\xff");                        // JPEG data
  auto img = read_image_file(out.string());
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->width, 70);
  EXPECT_EQ(img->height, 35);
  EXPECT_NE(run("upscale -i " + in + " -o " + out.string() + " " + model_args() + " -j 1:x:1").exit_code, 0);
  // -s with an exact size was ignored; an output that is a folder failed after the work.
  r = run("upscale -i " + in + " -o " + (dir_ / "s.png").string() + " " + model_args() + " -s 2 --width 100");
  EXPECT_NE(r.err.find("--scale excludes --width"), std::string::npos) << r.err;
  fs::create_directories(dir_ / "folder.png");
  r = run("upscale -i " + in + " -o " + (dir_ / "folder.png").string() + " " + model_args());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("folder.png: is a folder; give the output file's name"), std::string::npos) << r.err;
  // One file: -f and an output extension of another format disagree (JPEG data in a .png): refused. The long
  // spellings of -f are taken.
  const fs::path png = dir_ / "named.png";
  r = run("upscale -i " + in + " -o " + png.string() + " " + model_args() + " -f jpg");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("its extension names another format than -f jpg"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(png));
  r = run("upscale -i " + in + " -o " + (dir_ / "long.jpeg").string() + " " + model_args() + " -f jpeg");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Ctrl-C (SIGINT, sent by `timeout` after 2 s, whether the model is still loading or images are being upscaled)
// during a folder of slow images: exit code 130, one line saying how many were written, every file in the output
// folder a whole image (no temporary file), and not every image done.
TEST_F(CliTest, InterruptStopsAFolderCleanly) {
  const fs::path in = dir_ / "in", out = dir_ / "out";
  fs::create_directories(in);
  constexpr int kImages = 32;  // x4plus at 128x128 on the CPU: about a second each here, so far from done at 2 s
  for (int i = 0; i < kImages; ++i) {
    const std::string name = std::to_string(i) + ".png";
    fs::rename(make_image(name, 3, 128, 128), in / name);
  }
  const fs::path err = dir_ / "err.txt";
  std::string cmd = "timeout --foreground --preserve-status -s INT 2 ";  // one signal (without --foreground, two)
  cmd += RESR_BINARY;
  cmd +=
      " upscale -i " + in.string() + " -o " + out.string() + " -m " + test::model_dir() + " -n x4plus --backend cpu 2>";
  cmd += err.string();
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const std::string message = test::slurp(err);
  EXPECT_NE(message.find("resr: stopping after the current tile"), std::string::npos) << message;
  EXPECT_NE(message.find("resr: interrupted: "), std::string::npos) << message;
  int written = 0;
  if (fs::exists(out)) {
    for (const auto& entry : fs::directory_iterator(out)) {
      EXPECT_EQ(entry.path().extension(), ".png") << entry.path();
      auto img = read_image_file(entry.path().string());
      ASSERT_TRUE(img.ok()) << entry.path() << ": " << img.status().message();
      EXPECT_EQ(img->width, 512);
      ++written;
    }
  }
  EXPECT_LT(written, kImages);
  EXPECT_NE(message.find(std::to_string(written) + " of " + std::to_string(kImages) + " images written"),
            std::string::npos)
      << message;
}

// -x (test-time augmentation, realesrgan-ncnn-vulkan's flag): the same size, close to the plain output, not equal.
TEST_F(CliTest, TtaFlag) {
  const std::string in = make_image("in.png", 3, 20, 10);
  const fs::path plain = dir_ / "plain.png", tta = dir_ / "tta.png";
  ASSERT_EQ(run("upscale -i " + in + " -o " + plain.string() + " " + model_args()).exit_code, 0);
  const fs::path report = dir_ / "r.json";
  test::RunResult r =
      run("upscale -i " + in + " -o " + tta.string() + " " + model_args() + " -x --report " + report.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream rf(report);
  const std::string json((std::istreambuf_iterator<char>(rf)), std::istreambuf_iterator<char>());
  EXPECT_NE(json.find("\"tta\": true"), std::string::npos) << json;
  auto a = read_image_file(plain.string()), b = read_image_file(tta.string());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(b->width, 80);
  ASSERT_EQ(b->height, 40);
  int worst = 0;
  for (std::size_t i = 0; i < a->bytes.size(); ++i) worst = std::max(worst, std::abs(a->bytes[i] - b->bytes[i]));
  EXPECT_GT(worst, 0);
  EXPECT_LT(worst, 128);
}

}  // namespace
}  // namespace resr

namespace resr {
namespace {

// A little-endian TIFF/EXIF block with IFD0 holding only Orientation (0x0112, SHORT, 1 value).
std::vector<std::uint8_t> exif_with_orientation(std::uint16_t orientation) {
  return {'I',  'I',  42, 0, 8, 0, 0, 0,                                                   // header, IFD0 at offset 8
          1,    0,                                                                         // one entry
          0x12, 0x01, 3,  0, 1, 0, 0, 0, std::uint8_t(orientation), 0, 0, 0, 0, 0, 0, 0};  // no next IFD
}

TEST_F(CliTest, ExifOrientationAppliedAndMetadataCarried) {
  Image img;
  img.width = 12;
  img.height = 5;
  img.channels = 3;
  img.bytes.assign(img.sample_count(), 90);
  img.exif = exif_with_orientation(6);  // rotate 90 degrees clockwise to display
  img.icc_profile.clear();
  const std::string in = (dir_ / "rotated.jpg").string();
  ASSERT_TRUE(write_image_file(img, in, ImageFormat::kJpeg, {}).ok());
  for (const char* ext : {"png", "jpg", "webp"}) {
    const fs::path out = dir_ / (std::string("upright.") + ext);
    test::RunResult r = run("upscale -i " + in + " -o " + out.string() + " " + model_args());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto up = read_image_file(out.string());
    ASSERT_TRUE(up.ok());
    EXPECT_EQ(up->width, 20) << ext;  // 5 * 4: the upright image is 5 wide
    EXPECT_EQ(up->height, 48) << ext;
    EXPECT_FALSE(up->exif.empty()) << ext << ": EXIF not carried";
    EXPECT_EQ(exif_orientation(*up), 1) << ext << ": orientation must be reset after rotating the pixels";
  }
}

}  // namespace
}  // namespace resr

namespace resr {
namespace {

TEST_F(CliTest, EvalReportsNiqePsnrSsimAndRefusesTinyNiqeClearly) {
  const std::string a = make_image("a.png", 3, 120, 100), b = make_image("b.png", 3, 120, 100);
  test::RunResult r = run("eval " + a + " --ref " + b + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key : {"niqe", "psnr", "ssim"}) EXPECT_NE(r.out.find(key), std::string::npos) << key << r.out;
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << r.out;
  // What the worst block was measured on is said: RGB, or Y with --y.
  EXPECT_NE(r.out.find(R"("worst_block_on": "rgb")"), std::string::npos) << r.out;
  r = run("eval " + a + " --ref " + b + " --json --y");
  EXPECT_NE(r.out.find(R"("worst_block_on": "y")"), std::string::npos) << r.out;
  r = run("eval " + make_image("tiny.png", 3, 40, 30));
  EXPECT_NE(r.out.find("smaller than one 96x96 NIQE block"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("nan"), std::string::npos);
  r = run("eval " + a + " --ref " + make_image("c.png", 3, 60, 50));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("sizes differ"), std::string::npos) << r.err;
}

// PSNR and SSIM compare colour: an opaque RGBA output against its RGB reference and a gray image against its RGB
// form are identical (each was "channel counts differ", where RGBA against RGBA left alpha out); an image under
// SSIM's 11x11 window still has its PSNR (it failed); --y and --block without --ref are refused (ignored before).
TEST_F(CliTest, EvalComparesColourWhateverTheLayout) {
  auto save = [&](const std::string& name, int channels, int w, int h) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.bytes.resize(img.sample_count());
    for (std::size_t p = 0; p < std::size_t(w) * h; ++p)
      for (int c = 0; c < channels; ++c)
        img.bytes[p * channels + c] =
            channels == 4 && c == 3 ? 255 : std::uint8_t((p * 37 + (channels >= 3 ? c : 0)) % 251);
    const std::string path = (dir_ / name).string();
    EXPECT_TRUE(write_image_file(img, path, ImageFormat::kPng, {}).ok());
    return path;
  };
  const std::string rgb = save("rgb.png", 3, 16, 12), rgba = save("rgba.png", 4, 16, 12);
  test::RunResult r = run("eval " + rgba + " --ref " + rgb + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out)["images"][0];
  EXPECT_EQ(j["psnr_db"], "inf") << r.out;
  EXPECT_EQ(j["ssim"], 1.0) << r.out;
  Image gray_rgb;  // the gray image's samples in R, G and B
  gray_rgb.width = 16;
  gray_rgb.height = 12;
  gray_rgb.channels = 3;
  for (std::size_t p = 0; p < 16 * 12; ++p)
    gray_rgb.bytes.insert(gray_rgb.bytes.end(), 3, std::uint8_t((p * 37) % 251));
  const std::string gray = save("gray.png", 1, 16, 12), as_rgb = (dir_ / "gray_rgb.png").string();
  ASSERT_TRUE(write_image_file(gray_rgb, as_rgb, ImageFormat::kPng, {}).ok());
  r = run("eval " + gray + " --ref " + as_rgb + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["images"][0]["psnr_db"], "inf") << r.out;
  const std::string tiny = save("tiny.png", 3, 10, 10);
  r = run("eval " + tiny + " --ref " + tiny);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("PSNR inf dB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SSIM n/a (image 10x10 with crop border 0 leaves less than the 11x11 SSIM window)"),
            std::string::npos)
      << r.out;
  r = run("eval " + tiny + " " + tiny + " --ref " + tiny + " " + tiny);  // the mean says so too (it was nan)
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mean SSIM n/a (no image has one)"), std::string::npos) << r.out;
  for (const char* option : {" --y", " --block 8"}) {
    r = run("eval " + rgb + option);
    EXPECT_NE(r.exit_code, 0) << option;
    EXPECT_NE(r.err.find("--y and --block set the worst-block PSNR against references: give --ref"), std::string::npos)
        << r.err;
  }
}

// A file name that is not UTF-8 (Linux allows any bytes) still gets its report and eval JSON, the byte written as
// U+FFFD; the report failed with a JSON type error after the image was written.
TEST_F(CliTest, JsonOutputsTakeFileNamesThatAreNotUtf8) {
  const std::string in = make_image("n\xff.png", 3, 120, 100);
  const std::string out = (dir_ / "o\xff.png").string(), report = (dir_ / "r.json").string();
  test::RunResult r = run("upscale -i '" + in + "' -o '" + out + "' " + model_args() + " --report " + report);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::slurp(report).find("n\xef\xbf\xbd.png"), std::string::npos);  // U+FFFD in UTF-8
  r = run("eval '" + in + "' --ref '" + in + "' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"psnr_db\": \"inf\""), std::string::npos) << r.out;
}

// eval compares images as they are displayed: a file stored sideways with EXIF orientation 6 against its upright
// copy is the same image (it was "sizes differ", as only TIFF came upright from the reader).
TEST_F(CliTest, EvalComparesImagesUpright) {
  auto stored = read_image_file(make_image("stored.png", 3, 120, 100));
  ASSERT_TRUE(stored.ok());
  stored->exif = resr::testing::make_exif(false, 6);
  const std::string sideways = (dir_ / "sideways.png").string(), upright = (dir_ / "upright.png").string();
  ASSERT_TRUE(write_image_file(*stored, sideways, ImageFormat::kPng, {}).ok());
  Image turned = *stored;
  apply_exif_orientation(turned);
  ASSERT_EQ(turned.width, 100);
  ASSERT_TRUE(write_image_file(turned, upright, ImageFormat::kPng, {}).ok());
  const test::RunResult r = run("eval " + upright + " --ref " + sideways + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"psnr_db\": \"inf\""), std::string::npos) << r.out;  // the same pixels
}

TEST_F(CliTest, ContestBenchAndReportNiqe) {
  const fs::path in_dir = dir_ / "contest";
  fs::create_directories(in_dir);
  fs::rename(make_image("p.png", 3, 32, 28), in_dir / "p.png");
  const fs::path json = dir_ / "contest.json";
  test::RunResult r = run("bench --contest " + in_dir.string() + " " + model_args() + " --json " + json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string j = test::slurp(json);
  for (const char* key : {"\"A\"", "\"model_size\"", "\"time_all\"", "\"runtime_avg\"", "\"niqe_avg\"", "\"img_name\"",
                          "\"runtime\"", "\"niqe\""})
    EXPECT_NE(j.find(key), std::string::npos) << key << j;
  EXPECT_NE(j.find("\"images_failed\": 0"), std::string::npos) << j;
  // A bad image is named and left out, the others still run, and the exit status says so; the warm-up takes the
  // first image that decodes (b.png comes first).
  std::ofstream(in_dir / "b.png", std::ios::binary) << "not a png";
  r = run("bench --contest " + in_dir.string() + " " + model_args() + " --warmup 1 --json " + json.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("b.png: not a PNG, JPEG, WebP or TIFF image"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 of 2 images failed"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("p.png 32x28 -> 128x112"), std::string::npos) << r.out;
  EXPECT_NE(test::slurp(json).find("\"images_failed\": 1"), std::string::npos) << test::slurp(json);
  const fs::path bad_only = dir_ / "bad_only";
  fs::create_directories(bad_only);
  fs::rename(in_dir / "b.png", bad_only / "b.png");
  r = run("bench --contest " + bad_only.string() + " " + model_args());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no image could be upscaled (1 failed)"), std::string::npos) << r.err;
  const fs::path report = dir_ / "r.json";
  r = run("upscale -i " + (in_dir / "p.png").string() + " -o " + (dir_ / "p_x4.png").string() + " " + model_args() +
          " --niqe --report " + report.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::slurp(report).find("\"niqe\""), std::string::npos);
}

}  // namespace
}  // namespace resr

namespace resr {
namespace {

// Options that cannot take effect, and what a file format cannot hold, are said in a note (the run goes on); an
// output folder named like a file is refused; --version names the build.
TEST_F(CliTest, NotesForOptionsThatDoNotApplyAndAFolderNamedLikeAFile) {
  const std::string in = make_image("in.png", 3);
  test::RunResult r = run("upscale -i " + in + " -o " + (dir_ / "o.png").string() + " " + model_args() + " --crf 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: --vcodec, --crf, --preset and --pix-fmt apply to videos"), std::string::npos) << r.err;
  r = run("upscale -i " + in + " -o " + (dir_ / "o.png").string() + " " + model_args() + " --backend ref --bf16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--bf16 applies to the cpu backend"), std::string::npos) << r.err;

  Image deep;  // 16 bits a sample, written as JPEG: 8
  deep.width = 6;
  deep.height = 5;
  deep.channels = 3;
  deep.bits = 16;
  deep.bytes.assign(deep.sample_count() * 2, 0x5a);
  ASSERT_TRUE(write_image_file(deep, (dir_ / "deep.png").string(), ImageFormat::kPng, {}).ok());
  const fs::path report = dir_ / "r.json";
  r = run("upscale -i " + (dir_ / "deep.png").string() + " -o " + (dir_ / "deep.jpg").string() + " " + model_args() +
          " --report " + report.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("deep.jpg: written with 8 bits a sample (the input has 16"), std::string::npos) << r.err;
  EXPECT_NE(test::slurp(report).find("\"depth_reduced\": true"), std::string::npos) << test::slurp(report);

  const fs::path folder = dir_ / "folder";
  fs::create_directories(folder);
  fs::rename(in, folder / "in.png");
  r = run("upscale -i " + folder.string() + " -o " + (dir_ / "big.png").string() + " " + model_args());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("big.png: input is a folder, so the output is a folder, and this name is a file's"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "big.png"));
  fs::create_directories(dir_ / "made.png");  // made first: taken as the folder it is
  EXPECT_EQ(run("upscale -i " + folder.string() + " -o " + (dir_ / "made.png").string() + " " + model_args()).exit_code,
            0);
  EXPECT_TRUE(fs::exists(dir_ / "made.png" / "in.png"));

  r = run("--version");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("resr "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(backends: cpu, ref"), std::string::npos) << r.out;

  // libgomp crashed starting 99999 threads (every command segfaulted): held to 1024, with a note.
  const test::ScopedEnv many("OMP_NUM_THREADS", "99999");
  r = run("info " + model_args());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("OMP_NUM_THREADS asks for 99999 threads; resr runs at most 1024"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace resr
