// The public API: create an Upscaler, upscale an image in memory, a file and a list of files, with stage times,
// and get clear errors.
#include <gtest/gtest.h>

#include <resr/resr.h>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "image/codec.h"
#include "support/paths.h"
#include "support/slurp.h"
#include "support/temp_dir.h"

namespace resr {
namespace {

Result<Upscaler> x4fast(UpscalerOptions o = {}) {
  o.model = "x4fast";
  o.model_dir = test::model_dir();
  return Upscaler::create(o);
}

TEST(Upscaler, UpscalesImagesAndFiles) {
  auto up = x4fast();
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(up->architecture(), "SRVGGNetCompact");
  EXPECT_EQ(up->model_scale(), 4);
  EXPECT_FALSE(up->backend().empty());
  auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(img.ok());
  StageTimes t;
  auto out = up->upscale(*img, &t);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 148);
  EXPECT_GT(t.inference_ms, 0);
  EXPECT_EQ(t.decode_ms, 0);  // no file
  EXPECT_EQ(t.tiles, 1);

  const test::ScopedTempDir tmp("resr_api_");
  std::filesystem::create_directories(tmp.path());
  const std::string path = (tmp.path() / "out.png").string();
  StageTimes ft;
  ASSERT_TRUE(up->upscale_file(test::data_path("x4fast_37x29.in.png"), path, &ft).ok());
  EXPECT_GT(ft.decode_ms, 0);
  EXPECT_GT(ft.encode_ms, 0);
  EXPECT_GT(ft.total_ms(), ft.inference_ms);
  auto written = read_image_file(path);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->bytes, out->bytes);  // the file holds what upscale() gives
}

// Progress: one call per tile, ending at total; returning false stops with "stopped", and a file is then not
// written.
TEST(Upscaler, TileProgressAndStop) {
  UpscalerOptions o;
  o.tile = 16;  // 3 x 2 tiles of the 37x29 image
  auto up = x4fast(o);
  ASSERT_TRUE(up.ok()) << up.status().message();
  auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(img.ok());
  std::vector<std::pair<int, int>> calls;
  auto out = up->upscale(*img, nullptr, [&](int done, int total) {
    calls.emplace_back(done, total);
    return true;
  });
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(calls.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(calls[i], std::make_pair(i + 1, 6));

  int seen = 0;
  auto stopped = up->upscale(*img, nullptr, [&](int, int) { return ++seen < 2; });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().message(), "stopped");
  EXPECT_EQ(seen, 2);

  const test::ScopedTempDir tmp("resr_api_");
  std::filesystem::create_directories(tmp.path());
  const std::string path = (tmp.path() / "out.png").string();
  seen = 0;
  const Status st =
      up->upscale_file(test::data_path("x4fast_37x29.in.png"), path, nullptr, [&](int, int) { return ++seen < 3; });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("stopped"), std::string::npos) << st.message();
  EXPECT_EQ(seen, 3);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));  // no temporary file left either
  seen = 0;
  ASSERT_TRUE(up->upscale_file(test::data_path("x4fast_37x29.in.png"), path, nullptr, [&](int, int) {
                  ++seen;
                  return true;
                }).ok());
  EXPECT_EQ(seen, 6);
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(Upscaler, OutputSizeAndAlphaOptions) {
  UpscalerOptions o;
  o.width = 74;  // half of x4: the height follows the aspect ratio
  o.alpha = "bicubic";
  auto up = x4fast(o);
  ASSERT_TRUE(up.ok()) << up.status().message();
  Image rgba;
  rgba.width = 20;
  rgba.height = 10;
  rgba.channels = 4;
  rgba.bytes.assign(rgba.sample_count(), 200);
  auto out = up->upscale(rgba);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 74);
  EXPECT_EQ(out->height, 37);
  EXPECT_EQ(out->channels, 4);
}

TEST(Upscaler, FilesGoOnPastABadOne) {
  auto up = x4fast();
  ASSERT_TRUE(up.ok());
  const test::ScopedTempDir tmp("resr_api_");
  std::filesystem::create_directories(tmp.path());
  const std::string bad_in = (tmp.path() / "bad.png").string();
  std::ofstream(bad_in) << "not a png";
  const std::string good = test::data_path("x4fast_37x29.in.png");
  const auto out = [&](const char* name) { return (tmp.path() / name).string(); };
  const std::vector<FileResult> r = up->upscale_files(
      {{good, out("a.png")}, {bad_in, out("b.png")}, {good, out("c.jpg")}, {good, out("d.bmp")}}, FileThreads{2, 2});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].status.ok()) << r[0].status.message();
  EXPECT_EQ(r[0].out_width, 148);
  EXPECT_EQ(r[0].in_height, 29);
  EXPECT_GT(r[0].times.encode_ms, 0);
  ASSERT_FALSE(r[1].status.ok());
  EXPECT_NE(r[1].status.message().find(bad_in), std::string::npos) << r[1].status.message();
  EXPECT_TRUE(r[2].status.ok()) << r[2].status.message();
  ASSERT_FALSE(r[3].status.ok());  // no encoder for .bmp: named, and nothing written
  EXPECT_NE(r[3].status.message().find("d.bmp"), std::string::npos) << r[3].status.message();
  EXPECT_EQ(r[3].times.inference_ms, 0) << "refused before decoding, not after the upscale";
  EXPECT_EQ(r[3].times.decode_ms, 0);
  EXPECT_TRUE(std::filesystem::exists(out("a.png")));
  EXPECT_FALSE(std::filesystem::exists(out("b.png")));
  EXPECT_TRUE(std::filesystem::exists(out("c.jpg")));
  EXPECT_FALSE(std::filesystem::exists(out("d.bmp")));
}

TEST(Upscaler, FileThreadsOutOfRangeFailEveryJobByName) {
  auto up = x4fast();
  ASSERT_TRUE(up.ok());
  const test::ScopedTempDir tmp("resr_api_threads_");
  std::filesystem::create_directories(tmp.path());
  const std::string good = test::data_path("x4fast_37x29.in.png");
  const std::string out = (tmp.path() / "e.png").string();
  for (const FileThreads threads : {FileThreads{0, 1}, FileThreads{1, 65}}) {
    const std::vector<FileResult> refused = up->upscale_files({{good, out}, {good, out}}, threads);
    ASSERT_EQ(refused.size(), 2u);
    for (const FileResult& r : refused) {
      EXPECT_EQ(r.status.message().rfind(good + ": load and save threads must be in [1, 64]", 0), 0u)
          << r.status.message();
      EXPECT_EQ(r.times.decode_ms, 0);
    }
  }
  EXPECT_FALSE(std::filesystem::exists(out));
}

// A job reading another job's output read the old file or the new one, by position and thread count: it fails
// before any work; the job writing it runs.
TEST(Upscaler, AJobReadingAnotherJobsOutputFails) {
  auto up = x4fast();
  ASSERT_TRUE(up.ok());
  const test::ScopedTempDir tmp("resr_api_chain_");
  std::filesystem::create_directories(tmp.path());
  const std::string good = test::data_path("x4fast_37x29.in.png");
  const std::string made = (tmp.path() / "made.png").string(), next = (tmp.path() / "next.png").string();
  std::filesystem::copy_file(good, made);  // a stale file under the name
  const std::vector<FileResult> r = up->upscale_files({{(tmp.path() / "." / "made.png").string(), next}, {good, made}});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].status.ok());
  EXPECT_NE(r[0].status.message().find("made.png: also the output of the job upscaling " + good), std::string::npos)
      << r[0].status.message();
  EXPECT_TRUE(r[1].status.ok()) << r[1].status.message();
  EXPECT_FALSE(std::filesystem::exists(next));
  // The output of a job refused itself is not written: reading it is safe.
  const std::vector<FileResult> s = up->upscale_files({{made, made}, {made, next}});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FALSE(s[0].status.ok());
  EXPECT_TRUE(s[1].status.ok()) << s[1].status.message();
}

TEST(Upscaler, ErrorsNameTheFile) {
  UpscalerOptions o;
  o.model_path = "/nonexistent/model.pth";
  auto bad = Upscaler::create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/nonexistent/model.pth"), std::string::npos) << bad.status().message();
  auto up = x4fast();
  ASSERT_TRUE(up.ok());
  const test::ScopedTempDir tmp("resr_api_");
  std::filesystem::create_directories(tmp.path());
  const std::string never = (tmp.path() / "never.png").string();
  const Status st = up->upscale_file("/nonexistent/in.png", never);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/in.png"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(never));
}

// realesr-general-x4v3 is blended with its -wdn twin at 0.5 by default, as resr upscale and Real-ESRGAN do.
TEST(Upscaler, DenoiseStrengthBlendsTheTwinAsTheCli) {
  const test::ScopedTempDir tmp("resr_api_dn_");
  std::filesystem::create_directories(tmp.path());
  const auto model = tmp.path() / "realesr-general-x4v3.safetensors";
  const auto twin = tmp.path() / "realesr-general-wdn-x4v3.safetensors";
  std::filesystem::copy_file(test::data_path("fixtures/srvgg_x4_prelu.safetensors"), model);
  // The twin: every weight halved (the F32 values after the 8-byte length and the JSON header), so that the blend is
  // a third model.
  std::string weights = test::slurp(model.string());
  std::uint64_t header = 0;
  std::memcpy(&header, weights.data(), sizeof header);
  for (std::size_t i = 8 + header; i + 4 <= weights.size(); i += 4) {
    float w = 0;
    std::memcpy(&w, weights.data() + i, 4);
    w *= 0.5f;
    std::memcpy(weights.data() + i, &w, 4);
  }
  std::ofstream(twin, std::ios::binary) << weights;
  auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(img.ok());
  auto run = [&](double dn, std::string* blended) -> std::vector<std::uint8_t> {
    UpscalerOptions o;
    o.model_path = model.string();
    o.backend = "cpu";
    o.denoise_strength = dn;
    auto up = Upscaler::create(o);
    EXPECT_TRUE(up.ok()) << up.status().message();
    if (!up.ok()) return {};
    *blended = up->denoise_model();
    auto out = up->upscale(*img);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? out->bytes : std::vector<std::uint8_t>{};
  };
  std::string by_default, half, alone;
  const auto default_out = run(-1, &by_default);
  EXPECT_EQ(by_default, twin.string());
  EXPECT_EQ(run(0.5, &half), default_out);
  EXPECT_EQ(half, twin.string());
  EXPECT_NE(run(1, &alone), default_out);
  EXPECT_EQ(alone, "");
}

TEST(Upscaler, OptionsOutOfRangeAreNamed) {
  const std::pair<UpscalerOptions, std::string> cases[] = {
      {[] {
         UpscalerOptions o;
         o.scale = -1;
         return o;
       }(),
       "scale"},
      {[] {
         UpscalerOptions o;
         o.width = -5;
         return o;
       }(),
       "width"},
      {[] {
         UpscalerOptions o;
         o.tile = -1;
         return o;
       }(),
       "tile"},
      {[] {
         UpscalerOptions o;
         o.tile = 1234567;
         return o;
       }(),
       "tile must be in [1, 65536] (or 0: automatic), got 1234567"},  // every digit: it said 1.23457e+06
      {[] {
         UpscalerOptions o;
         o.tile_pad = 5000;
         return o;
       }(),
       "tile_pad"},
      {[] {
         UpscalerOptions o;
         o.quality = 0;
         return o;
       }(),
       "quality"},
      {[] {
         UpscalerOptions o;
         o.alpha = "nearest";
         return o;
       }(),
       "alpha"},
      {[] {
         UpscalerOptions o;
         o.backend = "tpu";
         return o;
       }(),
       "backend"},
      {[] {
         UpscalerOptions o;
         o.denoise_strength = 1.5;
         return o;
       }(),
       "denoise_strength"},
  };
  for (const auto& [options, name] : cases) {
    auto up = x4fast(options);
    ASSERT_FALSE(up.ok()) << name;
    EXPECT_NE(up.status().message().find(name), std::string::npos) << up.status().message();
  }
}

}  // namespace
}  // namespace resr
