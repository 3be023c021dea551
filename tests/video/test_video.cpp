// Video through the resr binary: every frame upscaled (the same pixels as the image path), timestamps kept,
// audio and subtitles copied, and bad input refused in one line with no output left behind.
#include <gtest/gtest.h>

#include <resr/resr.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "engine/compiled_model.h"
#include "engine/model_loader.h"
#include "engine/upscale.h"
#include "support/cli_run.h"
#include "support/paths.h"
#include "support/slurp.h"
#include "support/temp_dir.h"
#include "video/video_plugin.h"
#include "video/video_reader.h"
#include "video_fixture.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavcodec/packet.h>
}

namespace resr {
namespace {
namespace fs = std::filesystem;

class VideoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.path());
    clip_ = (tmp_.path() / "clip.mkv").string();
    ASSERT_EQ(test::write_clip(clip_, spec_), "");
  }
  test::RunResult run(const std::string& args) { return test::run_resr(tmp_.path(), args); }
  std::string path(const char* name) const { return (tmp_.path() / name).string(); }
  static std::string model() { return "--backend cpu -m " + test::model_dir() + " -n x4fast"; }
  // Everything in the folder but the clip: what a run left behind.
  std::vector<std::string> left_behind() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(tmp_.path()))
      if (e.path().filename() != "clip.mkv") names.push_back(e.path().filename().string());
    return names;
  }
  static std::vector<Image> frames_of(const std::string& file) {
    std::vector<Image> frames;
    auto reader = video::VideoReader::open(file);
    EXPECT_TRUE(reader.ok()) << file;
    if (!reader.ok()) return frames;
    while (true) {
      auto unit = (*reader)->next();
      EXPECT_TRUE(unit.ok()) << unit.status().message();
      if (!unit.ok() || !*unit) break;
      if ((*unit)->is_frame) frames.push_back(std::move((*unit)->frame));
    }
    return frames;
  }
  // A job of the clip into `output` (FFV1) with a stand-in model: every frame as it is, the size kept.
  video::VideoJob identity_job(const char* output) const {
    video::VideoJob job;
    job.input = clip_;
    job.output = path(output);
    job.options.codec = "ffv1";
    job.upscale = [](const Image& frame) -> Result<Image> { return frame; };
    job.output_size = [](int w, int h) -> Result<std::pair<int, int>> { return std::pair{w, h}; };
    return job;
  }
  static std::vector<long long> times(const test::ProbedStream& s) {
    std::vector<long long> ms;
    for (const test::ProbedPacket& p : s.packets) ms.push_back(p.ms);
    return ms;
  }

  test::ScopedTempDir tmp_{"resr_video_"};
  test::ClipSpec spec_;
  std::string clip_;
};

TEST_F(VideoTest, EveryFrameAsTheImagePathWithItsTimeAndTheOtherStreamsCopied) {
  const std::string out = path("big.mkv");
  const test::RunResult r =
      run("upscale " + model() + " -i " + clip_ + " -o " + out + " --vcodec ffv1 --pix-fmt bgr0 --crf 10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // FFV1 is lossless, with no CRF: a --crf given is said to be unused (it was dropped unsaid).
  EXPECT_NE(r.err.find(out + ": the ffv1 encoder has no CRF setting; --crf 10 was not used"), std::string::npos)
      << r.err;
  const std::vector<test::ProbedStream> in = test::probe(clip_), got = test::probe(out);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, "video");
  EXPECT_EQ(got[0].codec, "ffv1");
  EXPECT_EQ(got[0].width, 128);
  EXPECT_EQ(got[0].height, 96);
  EXPECT_EQ(times(got[0]), std::vector<long long>(spec_.frame_ms.begin(), spec_.frame_ms.end()));
  for (std::size_t s = 1; s < 3; ++s) {  // audio and subtitles: the same packets at the same times
    EXPECT_EQ(got[s].type, in[s].type);
    ASSERT_EQ(got[s].packets.size(), in[s].packets.size()) << in[s].type;
    for (std::size_t k = 0; k < in[s].packets.size(); ++k) {
      EXPECT_EQ(got[s].packets[k].ms, in[s].packets[k].ms);
      EXPECT_EQ(got[s].packets[k].data, in[s].packets[k].data);
    }
  }
  // The pixels: each input frame (as RGB) through the model, exactly (bgr0 is lossless).
  auto model_source = engine::load_model({test::model_dir(), "x4fast"});
  ASSERT_TRUE(model_source.ok());
  auto compiled = engine::CompiledModel::compile(*model_source, "cpu");
  ASSERT_TRUE(compiled.ok());
  const std::vector<Image> in_frames = frames_of(clip_), out_frames = frames_of(out);
  ASSERT_EQ(in_frames.size(), spec_.frame_ms.size());
  ASSERT_EQ(out_frames.size(), in_frames.size());
  for (std::size_t i = 0; i < in_frames.size(); ++i) {
    auto want = engine::upscale_image(in_frames[i], *compiled, {});
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(out_frames[i].bytes, want->bytes) << "frame " << i;
  }
  EXPECT_EQ(left_behind(), std::vector<std::string>{"big.mkv"});
}

TEST_F(VideoTest, DefaultIsH264AndStreamsAContainerCannotHoldAreNamed) {
  const std::string out = path("big.mp4");
  const test::RunResult r = run("upscale " + model() + " -i " + clip_ + " -o " + out +
                                " -s 2 --crf 18 --profile -v --report " + path("r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(out);
  ASSERT_GE(got.size(), 1u);
  EXPECT_EQ(got[0].codec, "h264");
  EXPECT_EQ(got[0].width, 64);  // -s 2: the x4 model, then a resize
  EXPECT_EQ(got[0].height, 48);
  EXPECT_EQ(times(got[0]), std::vector<long long>(spec_.frame_ms.begin(), spec_.frame_ms.end()));
  // MP4 holds neither PCM in Matroska's form nor SubRip: each dropped stream gets a line, the run still succeeds.
  EXPECT_NE(r.err.find("subrip"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libx264 yuv420p crf 18"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("frames 6"), std::string::npos) << r.out;
  std::ifstream report_file(path("r.json"));
  const nlohmann::json report = nlohmann::json::parse(report_file, nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["schema"], "resr-video-report");
  ASSERT_EQ(report["videos"].size(), 1u);
  const nlohmann::json& v = report["videos"][0];
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["frames"], 6);
  EXPECT_EQ(v["output_size"], nlohmann::json({64, 48}));
  EXPECT_EQ(v["encoder"], "libx264 yuv420p crf 18");
  EXPECT_EQ(v["notes"].size(), 2u);  // the dropped streams; --crf was used
  EXPECT_GT(v["ms"]["upscale"].get<double>(), 0);
  // Every frame plays: MP4 ends the last frame's sample at its duration, and a reader (FFmpeg's own, through the
  // file's edit list) stops there.
  EXPECT_EQ(frames_of(out).size(), spec_.frame_ms.size());
}

// A recording that starts an hour in gives an output that starts at 0, with the other streams moved by as much.
TEST_F(VideoTest, AnInputThatStartsLateGivesAnOutputFromZeroWithItsStreamsInStep) {
  test::ClipSpec late;
  late.start_ms = 3600 * 1000;
  const std::string in = path("late.mkv"), out = path("late_x4.mkv");
  ASSERT_EQ(test::write_clip(in, late), "");
  const std::vector<test::ProbedStream> source = test::probe(in);
  ASSERT_EQ(source.size(), 3u);
  ASSERT_EQ(times(source[0]).front(), late.start_ms);
  const test::RunResult r = run("upscale " + model() + " -i " + in + " -o " + out + " --vcodec ffv1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(out);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(times(got[0]), std::vector<long long>(late.frame_ms.begin(), late.frame_ms.end()));
  for (std::size_t s = 1; s < 3; ++s) {
    std::vector<long long> want = times(source[s]);
    for (long long& t : want) t -= late.start_ms;
    EXPECT_EQ(times(got[s]), want) << got[s].type;
  }
}

// Frames whose times repeat (a filter's setpts=0, two files joined) are moved on just past the one before, as the
// encoder takes only increasing times, and that is said: they were moved unsaid.
TEST_F(VideoTest, FramesWhoseTimesRepeatAreMovedOnAndSaid) {
  test::ClipSpec same;
  same.frame_ms = {0, 40, 40, 80};
  same.audio = same.subtitle = false;
  const std::string in = path("same.mkv"), out = path("same_x4.mkv");
  ASSERT_EQ(test::write_clip(in, same), "");
  const test::RunResult r = run("upscale " + model() + " -i " + in + " -o " + out + " --vcodec ffv1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 frame went back in time or repeated one's time; each moved on just past the one before"),
            std::string::npos)
      << r.err;
  const std::vector<test::ProbedStream> got = test::probe(out);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].packets.size(), 4u);  // none dropped
}

// The streams left out for one reason are one note when there are many (200 fonts into MP4 gave 200 lines); a few
// keep a line each.
TEST(VideoNotes, ManyStreamsLeftOutForOneReasonAreOneNote) {
  video::VideoJob job;
  job.input = "in.mkv";
  job.output = "out.mp4";
  video::VideoReport report;
  for (int i = 3; i < 203; ++i)
    report.dropped_streams.push_back("stream " + std::to_string(i) +
                                     " (attachment, ttf): not audio, video or subtitles");
  report.dropped_streams.push_back("stream 1 (subtitle, subrip): the mp4 container cannot hold it");
  const std::vector<std::string> notes = video::report_notes(job, report);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0],
            "out.mp4: stream 3 (attachment, ttf), stream 4 (attachment, ttf) and 198 more streams: not audio, "
            "video or subtitles: not copied");
  EXPECT_EQ(notes[1], "out.mp4: stream 1 (subtitle, subrip): the mp4 container cannot hold it: not copied");
}

// An odd output size makes a player's encoder 4:4:4, which is said (few players play it); an even one, or a pixel
// format the user chose, is not.
TEST(VideoNotes, AnOddSizeGivingFourFourFourIsSaid) {
  video::VideoJob job;
  job.input = "in.mkv";
  job.output = "out.mp4";
  video::VideoReport report;
  report.out_width = 135;
  report.out_height = 100;
  report.codec = "libx264";
  report.pixel_format = "yuv444p";
  std::vector<std::string> notes = video::report_notes(job, report);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "out.mp4: 135x100 has an odd side, which 4:2:0 cannot take, so the video is yuv444p (not yuv420p), which "
            "few players and no browser play; an even size (-s, --width, --height) gives 4:2:0");
  report.out_width = 136;
  EXPECT_TRUE(video::report_notes(job, report).empty());
  report.out_width = 135;
  job.options.pixel_format = "yuv444p";
  EXPECT_TRUE(video::report_notes(job, report).empty());
  job.options.pixel_format.clear();
  report.codec = "ffv1";  // an archival encoder: no player is meant
  EXPECT_TRUE(video::report_notes(job, report).empty());
  report.codec = "libvpx-vp9";  // VP9 and AV1 pick RGB for an odd size: said too
  report.pixel_format = "gbrp";
  ASSERT_EQ(video::report_notes(job, report).size(), 1u);
  EXPECT_NE(video::report_notes(job, report)[0].find("so the video is gbrp (not yuv420p)"), std::string::npos);
}

// Matroska to Matroska keeps a font attachment (an anime encode's ASS subtitles are drawn with them); MP4, which
// holds none, names it.
TEST_F(VideoTest, FontAttachmentsStayInMatroska) {
  test::ClipSpec with_font;
  with_font.font = true;
  const std::string in = path("font.mkv");
  ASSERT_EQ(test::write_clip(in, with_font), "");
  ASSERT_EQ(test::probe(in).size(), 4u);
  const test::RunResult r = run("upscale " + model() + " -i " + in + " -o " + path("font_x4.mkv") + " --vcodec ffv1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("attachment"), std::string::npos) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(path("font_x4.mkv"));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].type, "attachment");
  const test::RunResult mp4 = run("upscale " + model() + " -i " + in + " -o " + path("font_x4.mp4"));
  ASSERT_EQ(mp4.exit_code, 0) << mp4.err;
  EXPECT_NE(mp4.err.find("(attachment, ttf): not audio, video or subtitles"), std::string::npos) << mp4.err;
}

// A source tagged RGB (libx264rgb's output) must not give a 4:2:0 output tagged RGB, which H.264 forbids and
// players show in wrong colours: the output's matrix is BT.601, as for an untagged stream of its height, in
// limited range. An RGB output is tagged RGB.
TEST_F(VideoTest, TheOutputsMatrixTagSuitsItsPixelFormat) {
  test::ClipSpec rgb;
  rgb.rgb = true;
  const std::string in = path("rgb.mkv");
  ASSERT_EQ(test::write_clip(in, rgb), "");
  ASSERT_EQ(test::probe(in).at(0).colour_space, 0);  // AVCOL_SPC_RGB
  ASSERT_EQ(run("upscale " + model() + " -i " + in + " -o " + path("yuv.mp4")).exit_code, 0);
  const test::ProbedStream yuv = test::probe(path("yuv.mp4")).at(0);
  EXPECT_EQ(yuv.colour_space, 6);  // AVCOL_SPC_SMPTE170M
  EXPECT_EQ(yuv.colour_range, 1);  // limited, as YUV from RGB usually is
  ASSERT_EQ(run("upscale " + model() + " -i " + clip_ + " -o " + path("rgb_x4.mkv") + " --vcodec ffv1 --pix-fmt bgr0")
                .exit_code,
            0);
  EXPECT_EQ(test::probe(path("rgb_x4.mkv")).at(0).colour_space, 0);
  EXPECT_EQ(test::probe(path("rgb_x4.mkv")).at(0).colour_range, 2);  // full: RGB spans its whole range
  // Motion JPEG is full range (its encoder refused 4:2:0 in limited range: "Invalid argument"), as are the yuvj
  // formats: tagged so, and read back with the lossless RGB output's colours (within JPEG's loss).
  const std::vector<Image> lossless = frames_of(path("rgb_x4.mkv"));
  ASSERT_FALSE(lossless.empty());
  for (const std::string& args : {" -o " + path("mjpeg.avi") + " --vcodec mjpeg",
                                  " -o " + path("mjpeg.mkv") + " --vcodec mjpeg --pix-fmt yuvj444p"}) {
    const test::RunResult r = run("upscale " + model() + " -i " + clip_ + args);
    ASSERT_EQ(r.exit_code, 0) << args << ": " << r.err;
    const std::string file = args.substr(4, args.find(" --") - 4);
    EXPECT_EQ(test::probe(file).at(0).colour_range, 2) << args;
    const std::vector<Image> got = frames_of(file);
    ASSERT_EQ(got.size(), lossless.size()) << args;
    ASSERT_EQ(got[0].bytes.size(), lossless[0].bytes.size()) << args;
    double sum = 0;
    for (std::size_t i = 0; i < got[0].bytes.size(); ++i) sum += std::abs(int(got[0].bytes[i]) - lossless[0].bytes[i]);
    EXPECT_LT(sum / double(got[0].bytes.size()), 4.0) << args;
  }
  // A source with alpha: frames are upscaled as RGB, and the note says the alpha channel is not copied.
  rgb.alpha = true;
  ASSERT_EQ(test::write_clip(path("rgba.mkv"), rgb), "");
  const test::RunResult r = run("upscale " + model() + " -i " + path("rgba.mkv") + " -o " + path("rgba_x4.mkv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("(video, ffv1): its alpha channel: not copied"), std::string::npos) << r.err;
}

// --width and --height of another shape keep the displayed shape through the pixel aspect, as FFmpeg's scale
// filter does: 32x24 at 8:3 shows as 128x36 (32:9); 128x54 pixels show so at 3:2.
TEST_F(VideoTest, APixelAspectKeepsTheDisplayedShapeWhenTheShapeChanges) {
  test::ClipSpec wide;
  wide.sar_num = 8;
  wide.sar_den = 3;
  const std::string in = path("anamorphic.mkv");
  ASSERT_EQ(test::write_clip(in, wide), "");
  ASSERT_EQ(run("upscale " + model() + " -i " + in + " -o " + path("x4.mkv") + " --vcodec ffv1").exit_code, 0);
  const test::ProbedStream same = test::probe(path("x4.mkv")).at(0);
  EXPECT_EQ(std::pair(same.sar_num, same.sar_den), std::pair(8, 3));
  ASSERT_EQ(
      run("upscale " + model() + " -i " + in + " -o " + path("fit.mkv") + " --vcodec ffv1 --width 128 --height 54")
          .exit_code,
      0);
  const test::ProbedStream fit = test::probe(path("fit.mkv")).at(0);
  EXPECT_EQ(fit.width, 128);
  EXPECT_EQ(fit.height, 54);
  EXPECT_EQ(std::pair(fit.sar_num, fit.sar_den), std::pair(3, 2));
}

// A damaged packet in the middle of a video costs its frame, not the video: it is skipped, as FFmpeg's own tool
// does, the other frames keep their times, and the run says what was skipped.
TEST_F(VideoTest, ADamagedFrameIsSkippedWithANote) {
  test::ClipSpec damaged;
  damaged.damaged_frame = 2;
  const std::string in = path("damaged.mkv"), out = path("damaged_x4.mkv");
  ASSERT_EQ(test::write_clip(in, damaged), "");
  const test::RunResult r = run("upscale " + model() + " -i " + in + " -o " + out + " --vcodec ffv1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(in + ": 1 damaged video packet skipped (the first at frame 2: "), std::string::npos) << r.err;
  std::vector<long long> want(damaged.frame_ms.begin(), damaged.frame_ms.end());
  want.erase(want.begin() + 2);
  EXPECT_EQ(times(test::probe(out).at(0)), want);
}

// Y4M holds raw frames only, one a tick, with no times: the writer sends them so, every frame in order, and a
// variable-rate source's gap (80 to 160 ms at 25 fps) as the frame before it again (the gap was closed up and every
// later frame came 40 ms early).
TEST_F(VideoTest, Y4mOutputHoldsEveryFrameAtItsTime) {
  const test::RunResult r = run("upscale " + model() + " -i " + clip_ + " -o " + path("raw.y4m") + " -v");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("wrapped_avframe yuv420p"), std::string::npos) << r.err;
  const std::vector<Image> frames = frames_of(path("raw.y4m"));
  ASSERT_EQ(spec_.frame_ms, (std::vector<int>{0, 40, 80, 160, 200, 240}));
  ASSERT_EQ(frames.size(), 7u);
  EXPECT_EQ(frames[3].bytes, frames[2].bytes);
  EXPECT_NE(frames[4].bytes, frames[3].bytes);
  EXPECT_EQ(frames[0].width, 128);
  // Its header's rate is the frame rate (it was the source's time base: F1000:1, 25 times too fast).
  EXPECT_EQ(test::slurp(path("raw.y4m")).substr(0, 30).find("F25:1"), std::size_t{19});
}

// Streams a container's muxer refuses only at its header (PCM in MPEG-PS) or would write as something else (PCM and
// SubRip in MPEG-TS as private data; SubRip in MPEG-PS as a DVD subtitle) are left out and named; the video is
// written (the job failed with "Invalid argument").
TEST_F(VideoTest, StreamsTheMuxerWouldRefuseOrMangleAreLeftOutAndNamed) {
  for (const char* name : {"big.mpg", "big.ts"}) {
    const test::RunResult r = run("upscale " + model() + " -i " + clip_ + " -o " + path(name) + " -s 1");
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.err.find("(audio, pcm_s16le): the "), std::string::npos) << r.err;
    const std::vector<test::ProbedStream> got = test::probe(path(name));
    ASSERT_GE(got.size(), 1u) << name;
    EXPECT_EQ(got[0].type, "video");
    for (const test::ProbedStream& s : got) EXPECT_NE(s.codec, "pcm_s16le") << name;
    EXPECT_NE(r.err.find("(subtitle, subrip): the "), std::string::npos) << r.err;
    EXPECT_EQ(got.size(), 1u) << name << ": " << got.back().type << " " << got.back().codec;
  }
}

// Joined MPEG-TS files (or a capture whose clock was reset): the second part's times start again. Each part goes on
// from the one before, with its own spacing; left alone, the whole second part was squeezed into one instant.
TEST_F(VideoTest, JoinedTransportStreamsPlayOneAfterTheOther) {
  const test::RunResult part = run("upscale " + model() + " -i " + clip_ + " -o " + path("part.ts") + " -s 1");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  const std::string one = test::slurp(path("part.ts"));
  std::ofstream(path("joined.ts"), std::ios::binary) << one << one;
  const test::RunResult r =
      run("upscale " + model() + " -i " + path("joined.ts") + " -o " + path("joined.mkv") + " -s 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("its timestamps jumped 1 time"), std::string::npos) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(path("joined.mkv"));
  ASSERT_EQ(got.size(), 1u);
  const std::vector<long long> ms = times(got[0]);
  ASSERT_EQ(ms.size(), 2 * spec_.frame_ms.size());
  const std::size_t n = spec_.frame_ms.size();
  for (std::size_t i = 1; i < n; ++i) {  // each part keeps its spacing, the second after the first
    EXPECT_EQ(ms[i] - ms[0], spec_.frame_ms[i] - spec_.frame_ms[0]) << i;
    EXPECT_EQ(ms[n + i] - ms[n], spec_.frame_ms[i] - spec_.frame_ms[0]) << i;
  }
  EXPECT_GT(ms[n], ms[n - 1]);
  EXPECT_LE(ms[n] - ms[n - 1], 100);
}

// A pause in a transport stream's video (H.264 packets carry no duration there) is no jump: the frame after it is
// compared with the frame before, not with a time predicted from the pause. It was: every later frame was moved on
// by the pause, and 2 s of video ran to 8 s.
TEST_F(VideoTest, APauseInATransportStreamKeepsItsTimes) {
  test::ClipSpec paused = spec_;
  paused.frame_ms = {0, 40, 80, 400, 440, 480, 520};
  paused.audio = false;
  paused.subtitle = false;
  const std::string in = path("paused.mkv");
  ASSERT_EQ(test::write_clip(in, paused), "");
  const test::RunResult part = run("upscale " + model() + " -i " + in + " -o " + path("paused.ts") + " -s 1");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  const test::RunResult r =
      run("upscale " + model() + " -i " + path("paused.ts") + " -o " + path("paused_out.mkv") + " -s 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("jumped"), std::string::npos) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(path("paused_out.mkv"));
  ASSERT_EQ(got.size(), 1u);
  const std::vector<long long> ms = times(got[0]);
  ASSERT_EQ(ms.size(), paused.frame_ms.size());
  for (std::size_t i = 1; i < ms.size(); ++i) EXPECT_EQ(ms[i] - ms[0], paused.frame_ms[i]) << i;
}

// AVI keeps no presentation times: x264's B-frames would delay every frame by the reordering (read back, the video
// started 80 ms after the audio). AVI output gets none; the video read back starts with its audio, at 0.
TEST_F(VideoTest, AviOutputKeepsTheVideoInStepWithItsAudio) {
  const test::RunResult avi = run("upscale " + model() + " -i " + clip_ + " -o " + path("step.avi") + " -s 1");
  ASSERT_EQ(avi.exit_code, 0) << avi.err;
  const test::RunResult r = run("upscale " + model() + " -i " + path("step.avi") + " -o " + path("step.mkv") + " -s 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(path("step.mkv"));
  ASSERT_GE(got.size(), 2u);
  ASSERT_EQ(got[0].type, "video");
  ASSERT_FALSE(got[0].packets.empty());
  EXPECT_EQ(got[0].packets.front().ms, 0);
  EXPECT_EQ(got[1].type, "audio");
  EXPECT_EQ(got[1].packets.front().ms, 0);
}

// A file cut short gives the frames before the cut (exit 0, as documented) and says how many of those its container
// declares: the note said only how many were read, and some cuts (MPEG-TS) gave no note at all.
TEST_F(VideoTest, ACutFileSaysHowManyOfItsDeclaredFramesWereRead) {
  test::ClipSpec many = spec_;
  many.audio = many.subtitle = false;
  many.frame_ms.clear();
  for (int i = 0; i < 30; ++i) many.frame_ms.push_back(40 * i);
  const std::string whole = path("many.mkv");
  ASSERT_EQ(test::write_clip(whole, many), "");
  const std::string bytes = test::slurp(whole);
  std::ofstream(path("cut_many.mkv"), std::ios::binary) << bytes.substr(0, bytes.size() * 4 / 10);
  const test::RunResult r =
      run("upscale " + model() + " -i " + path("cut_many.mkv") + " -o " + path("cut_many_out.mkv") + " -s 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::size_t frames = frames_of(path("cut_many_out.mkv")).size();
  ASSERT_LT(frames, 25u);
  // About 30: the duration Matroska keeps ends at the last frame's start.
  const std::size_t said = r.err.find(std::to_string(frames) + " frames were read and written, of about ");
  ASSERT_NE(said, std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" its container declares (the file may be cut short)", said), std::string::npos) << r.err;
  // The whole file says nothing of the kind, nor a clip of two frames, whose rate FFmpeg guesses as 1000/s (it was
  // said to be short of the 40 frames its 40 ms and that rate made).
  const test::RunResult full = run("upscale " + model() + " -i " + whole + " -o " + path("many_out.mkv") + " -s 1");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.err.find("declares"), std::string::npos) << full.err;
  many.frame_ms = {0, 40};
  ASSERT_EQ(test::write_clip(path("two.mkv"), many), "");
  const test::RunResult two = run("upscale " + model() + " -i " + path("two.mkv") + " -o " + path("two_out.mkv"));
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(two.err.find("declares"), std::string::npos) << two.err;
}

// An audio packet that goes back a second (a damaged recording) would be refused by the muxer and fail the whole
// video: it is moved on just past the one before, and the run says so.
// A Y4M cut inside a frame: the whole frames are written and the cut one is named (FFmpeg drops it without a word).
TEST_F(VideoTest, AY4mCutInsideAFrameSaysSo) {
  const std::string frame = "FRAME\n" + std::string(32 * 24, '\x64') + std::string(32 * 24 / 2, '\x80');
  const std::string header = "YUV4MPEG2 W32 H24 F25:1 Ip A1:1 C420jpeg\n";
  std::ofstream(path("cut.y4m"), std::ios::binary) << header << frame << frame << frame.substr(0, 500);
  std::ofstream(path("whole.y4m"), std::ios::binary) << header << frame << frame;
  const test::RunResult cut = run("upscale " + model() + " -i " + path("cut.y4m") + " -o " + path("cut.mkv"));
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_EQ(cut.err,
            "resr: " + path("cut.y4m") + ": the file ends inside frame 3 (500 of its 1158 bytes), which is left out\n");
  EXPECT_EQ(frames_of(path("cut.mkv")).size(), 2u);
  const test::RunResult whole = run("upscale " + model() + " -i " + path("whole.y4m") + " -o " + path("whole.mkv"));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(whole.err, "");
  // One that ends inside its first frame says so, where "no frames" was all that was said.
  std::ofstream(path("first.y4m"), std::ios::binary) << header << frame.substr(0, 500);
  const test::RunResult first = run("upscale " + model() + " -i " + path("first.y4m") + " -o " + path("first.mkv"));
  EXPECT_NE(first.exit_code, 0);
  EXPECT_NE(first.err.find("the video stream has no frames (the file ends inside frame 1"), std::string::npos)
      << first.err;
  // A failure gives FFmpeg's own reason, which only -v showed: "cannot write: Invalid argument" alone said nothing.
  std::ofstream(path("slow.y4m"), std::ios::binary) << "YUV4MPEG2 W32 H24 F1:1000000000 Ip A1:1 C420jpeg\n"
                                                    << frame << frame;
  const test::RunResult slow = run("upscale " + model() + " -i " + path("slow.y4m") + " -o " + path("slow.mp4"));
  EXPECT_NE(slow.exit_code, 0);
  EXPECT_NE(slow.err.find("(FFmpeg: mp4: Application provided duration"), std::string::npos) << slow.err;
  EXPECT_EQ(slow.err.find('\n'), slow.err.size() - 1) << slow.err;  // one line
  // An output past FFmpeg's largest frame (under resr's limit) is refused before any work, not by the encoder.
  std::ofstream(path("big.y4m"), std::ios::binary) << "YUV4MPEG2 W4096 H4096 F25:1 Ip A1:1 C420jpeg\n"
                                                   << frame.substr(0, 500);
  const test::RunResult big = run("upscale " + model() + " -i " + path("big.y4m") + " -o " + path("big.mkv"));
  EXPECT_NE(big.err.find("output size 16384x16384 is past the largest video frame FFmpeg encodes"), std::string::npos)
      << big.err;
  EXPECT_FALSE(std::filesystem::exists(path("big.mkv")));
}

TEST_F(VideoTest, APacketThatGoesBackInTimeIsMovedOnWithANote) {
  auto reader = video::VideoReader::open(clip_);
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  const std::string out = path("moved.mkv");
  video::VideoOptions ffv1;
  ffv1.codec = "ffv1";
  auto writer = video::VideoWriter::open(out, **reader, (*reader)->width(), (*reader)->height(), ffv1);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  int audio = 0;
  while (true) {
    auto unit = (*reader)->next();
    ASSERT_TRUE(unit.ok()) << unit.status().message();
    if (!*unit) break;
    if ((*unit)->is_frame) {
      ASSERT_TRUE((*writer)->write_frame((*unit)->frame, (*unit)->pts).ok());
      continue;
    }
    AVPacket& p = *(*unit)->packet;
    if (p.stream_index == 1 && ++audio == 4) p.pts = p.dts = p.pts - 1000;  // 1/1000 s: 120 ms becomes -880
    const Status st = (*writer)->copy_packet(p);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  ASSERT_TRUE((*writer)->finish().ok());
  EXPECT_EQ((*writer)->retimed_streams(),
            std::vector<std::string>{
                "stream 1 (audio, pcm_s16le): 1 packet went back in time; moved on just past the one before"});
  const std::vector<test::ProbedStream> in = test::probe(clip_), got = test::probe(out);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_EQ(got[1].packets.size(), in[1].packets.size());
  EXPECT_EQ(got[1].packets[3].ms, 80);  // with the third (80 ms): Matroska allows packets at the same time
  EXPECT_EQ(got[1].packets[4].ms, in[1].packets[4].ms);
}

TEST_F(VideoTest, AFolderOfImagesAndVideosGoesOnPastABadVideo) {
  const fs::path in = tmp_.path() / "in", out = tmp_.path() / "out";
  fs::create_directories(in);
  fs::copy_file(clip_, in / "a.MKV");
  std::ofstream(in / "b.mp4") << "not a video";
  fs::copy_file(test::data_path("x4fast_37x29.in.png"), in / "c.png");
  const test::RunResult r = run("upscale " + model() + " -i " + in.string() + " -o " + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("b.mp4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 of 2 videos failed"), std::string::npos) << r.err;
  std::vector<std::string> written;
  for (const auto& e : fs::directory_iterator(out)) written.push_back(e.path().filename().string());
  std::sort(written.begin(), written.end());
  EXPECT_EQ(written, (std::vector<std::string>{"a.mkv", "c.png"}));
  EXPECT_EQ(test::probe((out / "a.mkv").string()).at(0).packets.size(), spec_.frame_ms.size());
  // --report cannot hold both kinds at once: refused before any work.
  const test::RunResult both =
      run("upscale " + model() + " -i " + in.string() + " -o " + out.string() + " --report " + path("r.json"));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("both images and videos"), std::string::npos) << both.err;
}

// Signals while a video is written (a long clip, slow with -x): a TERM, or a HUP (the terminal closed), stops it as
// Ctrl-C does, exiting 128 + its number (a HUP left the temporary output behind); a second Ctrl-C quits at once and
// still leaves no temporary behind (the plugin's own file, removed through it). Job control (set -m), so that the
// background resr does not ignore SIGINT as a non-interactive shell's jobs do.
TEST_F(VideoTest, SignalsLeaveNoOutputAndNoTemporary) {
  test::ClipSpec long_spec;
  long_spec.width = 64;
  long_spec.height = 48;
  long_spec.audio = long_spec.subtitle = false;
  long_spec.frame_ms.clear();
  for (int i = 0; i < 300; ++i) long_spec.frame_ms.push_back(40 * i);
  const std::string long_clip = path("long.mkv");
  ASSERT_EQ(test::write_clip(long_clip, long_spec), "");
  const fs::path out = tmp_.path() / "out";
  fs::create_directories(out);
  // The second case runs x4plus, whose frames take seconds: the second signal comes while the first waits for one.
  const std::string plus = "--backend cpu -m " + test::model_dir() + " -n x4plus";
  struct Case {
    std::string signals, models;
    int code;
    bool twice;
  };
  for (const auto& [signals, models, code, twice] :
       {Case{"kill -TERM $p", model(), 143, false}, Case{"kill -HUP $p", model(), 129, false},
        Case{"kill -INT $p; sleep 0.05; kill -INT $p", plus, 130, true}}) {
    const std::string command = "set -m; " + std::string(RESR_BINARY) + " upscale -x " + models + " -i " + long_clip +
                                " -o " + (out / "o.mkv").string() + " 2>" + path("err.txt") + " & p=$!; sleep 1.5; " +
                                signals + "; wait $p; echo $? >" + path("code.txt");
    ASSERT_EQ(std::system(("bash -c '" + command + "'").c_str()), 0) << command;
    const std::string err = test::slurp(path("err.txt"));
    EXPECT_EQ(std::stoi(test::slurp(path("code.txt"))), code) << signals << ": " << err;
    EXPECT_NE(err.find("stopping after the current tile or frame"), std::string::npos) << err;
    // The second signal ended it, not the first's clean stop (which says what was not written).
    if (twice) {
      EXPECT_EQ(err.find("not written"), std::string::npos) << err;
    }
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(out)) left.push_back(e.path().filename().string());
    EXPECT_EQ(left, std::vector<std::string>{}) << signals;
  }
  // A folder of videos stopped says how many were written, as an image folder does (it said "1 of 2 videos
  // failed", as if the other had been written).
  const fs::path folder = tmp_.path() / "clips";
  fs::create_directories(folder);
  fs::copy_file(long_clip, folder / "a.mkv");
  fs::copy_file(long_clip, folder / "b.mkv");
  const std::string command = "set -m; " + std::string(RESR_BINARY) + " upscale -x " + model() + " -i " +
                              folder.string() + " -o " + (tmp_.path() / "clips_x4").string() + " 2>" + path("err.txt") +
                              " & p=$!; sleep 1.5; kill -INT $p; wait $p; echo $? >" + path("code.txt");
  ASSERT_EQ(std::system(("bash -c '" + command + "'").c_str()), 0) << command;
  const std::string err = test::slurp(path("err.txt"));
  EXPECT_EQ(std::stoi(test::slurp(path("code.txt"))), 130) << err;
  EXPECT_NE(err.find(" of 2 videos written\n"), std::string::npos) << err;
  EXPECT_EQ(err.find("videos failed"), std::string::npos) << err;
}

TEST_F(VideoTest, FolderVideosThatWouldShareAnOutputAreRefused) {
  const fs::path in = tmp_.path() / "in", out = tmp_.path() / "out";
  fs::create_directories(in);
  fs::copy_file(clip_, in / "a.mkv");
  fs::copy_file(clip_, in / "a.MKV");  // the container's name is lower-cased for the output
  const test::RunResult r = run("upscale " + model() + " -i " + in.string() + " -o " + out.string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("would both be written to " + (out / "a.mkv").string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));  // refused before the folder is made
}

TEST_F(VideoTest, TheDefaultEncoderSuitsTheContainer) {
  const test::RunResult r = run("upscale " + model() + " -i " + clip_ + " -o " + path("web.webm") + " -v -q 80");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: -f, -q, --lossless and -j apply to images"), std::string::npos)
      << r.err;  // done, likely a slip
  EXPECT_NE(r.err.find("libvpx-vp9 yuv420p crf 18"), std::string::npos) << r.err;
  EXPECT_EQ(test::probe(path("web.webm")).at(0).codec, "vp9");
}

// x265 writes its own settings and statistics on stderr, past FFmpeg's log: silenced but for errors.
TEST_F(VideoTest, Libx265WritesOnlyResrsOwnLines) {
  const test::RunResult r =
      run("upscale " + model() + " -i " + clip_ + " -o " + path("hevc.mkv") + " --vcodec libx265");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("x265 ["), std::string::npos) << r.err;
  EXPECT_EQ(test::probe(path("hevc.mkv")).at(0).codec, "hevc");
}

// SVT-AV1 with the default preset: "medium" is none of its presets (numbers), and the run failed without --preset;
// its banner (some 15 lines on stderr) is held back like x265's. An explicit --preset medium is refused, not ignored.
TEST_F(VideoTest, LibsvtAv1RunsWithTheDefaults) {
  if (avcodec_find_encoder_by_name("libsvtav1") == nullptr) GTEST_SKIP() << "FFmpeg built without libsvtav1";
  const test::RunResult r =
      run("upscale " + model() + " -i " + clip_ + " -o " + path("av1.mkv") + " --vcodec libsvtav1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(test::probe(path("av1.mkv")).at(0).codec, "av1");
  const test::RunResult in_mov =
      run("upscale " + model() + " -i " + clip_ + " -o " + path("av1.mov") + " --vcodec libsvtav1");
  EXPECT_NE(in_mov.err.find("the mov container cannot hold av1 video"), std::string::npos) << in_mov.err;
  const test::RunResult bad =
      run("upscale " + model() + " -i " + clip_ + " -o " + path("never.mkv") + " --vcodec libsvtav1 --preset medium");
  EXPECT_NE(bad.err.find("the libsvtav1 encoder has no preset 'medium'"), std::string::npos) << bad.err;
}

TEST_F(VideoTest, DeepSourcesStayDeep) {
  test::ClipSpec deep_spec;
  deep_spec.bits = 10;
  const std::string in = path("deep.mkv");
  ASSERT_EQ(test::write_clip(in, deep_spec), "");
  const std::vector<Image> in_frames = frames_of(in);
  ASSERT_EQ(in_frames.size(), deep_spec.frame_ms.size());
  ASSERT_EQ(in_frames[0].bits, 16);
  // Lossless 16-bit RGB out: each frame is the image path's 16-bit upscale of the source frame, exactly.
  const test::RunResult r =
      run("upscale " + model() + " -i " + in + " -o " + path("deep_x4.mkv") + " --vcodec ffv1 --pix-fmt gbrp16le");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto model_source = engine::load_model({test::model_dir(), "x4fast"});
  ASSERT_TRUE(model_source.ok());
  auto compiled = engine::CompiledModel::compile(*model_source, "cpu");
  ASSERT_TRUE(compiled.ok());
  const std::vector<Image> out_frames = frames_of(path("deep_x4.mkv"));
  ASSERT_EQ(out_frames.size(), in_frames.size());
  for (std::size_t i = 0; i < in_frames.size(); ++i) {
    auto want = engine::upscale_image(in_frames[i], *compiled, {});
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(want->bits, 16);
    EXPECT_EQ(out_frames[i].bytes, want->bytes) << "frame " << i;
  }
  // The default encoder keeps 10 bits.
  const test::RunResult d = run("upscale " + model() + " -i " + in + " -o " + path("deep_x4.mp4") + " -v");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.err.find("libx264 yuv420p10le crf 18"), std::string::npos) << d.err;
  // Y4M too (FFmpeg's writer refused more than 8 bits: "cannot write the container header: Invalid argument").
  const test::RunResult y4m = run("upscale " + model() + " -i " + in + " -o " + path("deep_x4.y4m"));
  ASSERT_EQ(y4m.exit_code, 0) << y4m.err;
  EXPECT_EQ(test::slurp(path("deep_x4.y4m")).rfind("YUV4MPEG2 W128 H96", 0), 0u);
  EXPECT_NE(test::slurp(path("deep_x4.y4m")).find(" C420p10 "), std::string::npos);
  ASSERT_EQ(frames_of(path("deep_x4.y4m")).size(), 7u);  // the variable-rate gap kept (Y4mOutputHoldsEvery...)
}

TEST_F(VideoTest, DisplayRotationIsKept) {
  test::ClipSpec rotated;
  rotated.rotation = 90;  // counter-clockwise; FFmpeg reads it back as -90 (clockwise)
  const std::string in = path("phone.mp4"), out = path("phone_x4.mp4");
  ASSERT_EQ(test::write_clip(in, rotated), "");
  ASSERT_EQ(test::probe(in).at(0).rotation, -90);
  const test::RunResult r = run("upscale " + model() + " -i " + in + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(out);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rotation, -90);
  EXPECT_EQ(got[0].width, 128);  // stored unrotated, as the source
}

// HDR10 metadata (the mastering display, the content light levels) describes the picture's light, which upscaling
// does not change: the new video stream keeps it (it was dropped).
TEST_F(VideoTest, HdrMetadataIsKept) {
  test::ClipSpec hdr;
  hdr.audio = false;
  hdr.subtitle = false;
  hdr.max_cll = 800;
  const std::string in = path("hdr.mkv"), out = path("hdr_x4.mkv");
  ASSERT_EQ(test::write_clip(in, hdr), "");
  ASSERT_EQ(test::probe(in).at(0).max_cll, 800);
  const test::RunResult r = run("upscale " + model() + " -i " + in + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<test::ProbedStream> got = test::probe(out);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].max_cll, 800);
  EXPECT_DOUBLE_EQ(got[0].mastering_max_nits, 1000.0);
}

TEST_F(VideoTest, BadInputGivesOneLineAndNoOutput) {
  std::string whole;
  {
    std::ifstream f(clip_, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::ofstream(path("text.mp4")) << "this is not a video\n";
  std::ofstream(path("cut.mkv"), std::ios::binary) << whole.substr(0, whole.size() / 3);
  std::ofstream(path("empty.mkv"), std::ios::binary).close();
  {
    // A million frames a second: Matroska counts milliseconds, so every frame would land on one timestamp.
    std::ofstream fast(path("fast.y4m"), std::ios::binary);
    fast << "YUV4MPEG2 W16 H16 F1000000:1 Ip A1:1 C420jpeg\n";
    for (int frame = 0; frame < 5; ++frame) fast << "FRAME\n" << std::string(16 * 16 * 3 / 2, '\x80');
  }
  std::ofstream(path("huge.y4m")) << "YUV4MPEG2 W16383 H16383 F25:1 Ip A1:1 C420jpeg\nFRAME\n" << std::string(999, 'x');
  // A playlist posing as a video must not make FFmpeg read another file.
  std::ofstream(path("playlist.avi")) << "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n"
                                      << clip_ << "\n#EXT-X-ENDLIST\n";
  struct Case {
    std::string args, names;
  } cases[] = {
      {"-i " + path("text.mp4") + " -o " + path("o1.mp4"), "text.mp4"},
      {"-i " + path("empty.mkv") + " -o " + path("o2.mp4"), "empty.mkv"},
      {"-i " + path("missing.mp4") + " -o " + path("o3.mp4"), "missing.mp4"},
      {"-i " + path("playlist.avi") + " -o " + path("o9.mp4"), "playlist.avi"},
      {"-i " + clip_ + " -o " + path("o4.png"), "o4.png"},
      {"-i " + clip_ + " -o " + path("o5.mkv") + " --vcodec nosuchcodec", "nosuchcodec"},
      {"-i " + clip_ + " -o " + path("o6.mkv") + " --vcodec ffv1 --pix-fmt nv12", "nv12"},
      {"-i " + clip_ + " -o " + path("o7.mkv") + " --preset nosuchpreset", "nosuchpreset"},
      {"-i " + clip_ + " -o /nonexistent/dir/o8.mkv", "/nonexistent/dir/o8.mkv"},
      {"-i " + path("fast.y4m") + " -o " + path("o16.mkv"), "the source's 1e+06 fps is finer than the matroska"},
      {"-i " + clip_ + " -o " + path("o10.mkv") + " --width 129 --height 97 --pix-fmt yuv420p",
       "pixel format 'yuv420p' needs a width divisible by 2 and a height by 2; the output is 129x97"},
      {"-i " + clip_ + " -o " + path("o11.mkv") + " --vcodec libx265 --width 48 --height 32",
       "the libx265 encoder crashes on frames smaller than 64x64; the output is 48x32"},
      // the muxer said only "cannot write the container header: Invalid argument"
      {"-i " + clip_ + " -o " + path("o12.mp4") + " --vcodec ffv1", "the mp4 container cannot hold ffv1 video"},
      // the encoder's own reason, from its log (it said only "Generic error in an external library")
      {"-i " + clip_ + " -o " + path("o15.mp4") + " --width 17000 --height 64", "invalid width x height (17000x64)"},
      // MPEG-TS wrote it as data, with exit 0: a file without video
      {"-i " + clip_ + " -o " + path("o14.ts") + " --vcodec ffv1", "the mpegts container cannot hold ffv1 video"},
      {"-i " + clip_ + " -o " + path("o13.mkv") + " --crf 60", "the libx264 encoder takes crf 0 to 51, got 60"},
      // Written with exit 0 and unplayable: HEVC in AVI read back as raw video, raw YUV in MOV did not decode, AV1
      // in MPEG-TS (FFmpeg 5.1) was a data stream.
      {"-i " + clip_ + " -o " + path("o17.avi") + " --vcodec libx265",
       "the avi container wrote hevc video that reads back as rawvideo (the file would not play)"},
      {"-i " + clip_ + " -o " + path("o18.mov") + " --vcodec rawvideo",
       "the mov container wrote rawvideo video whose frames do not decode"},
      {"-i " + clip_ + " -o " + path("o19.ts") + " --vcodec libaom-av1", "av1 video"},
      // MOV takes AV1 and VP9 only as MP4 (its header refused them once the encoder ran; SVT-AV1 then hung)
      {"-i " + clip_ + " -o " + path("o20.mov") + " --vcodec libvpx-vp9", "the mov container cannot hold vp9 video"},
      {"-i " + clip_ + " -o " + path("o21.y4m") + " --vcodec ffv1",
       "the yuv4mpegpipe container holds raw frames only (--vcodec ffv1)"},
      // taken and ignored before
      {"-i " + clip_ + " -o " + path("o22.mkv") + " --vcodec ffv1 --preset slow",
       "the ffv1 encoder has no presets (--preset slow)"},
      // the demuxer's reason from its log: the code it returned said "Device or resource busy"
      {"-i " + path("huge.y4m") + " -o " + path("o23.mkv"), "(IMGUTILS: Picture size 16383x16383 is invalid; resr"},
  };
  for (const Case& c : cases) {
    const test::RunResult r = run("upscale " + model() + " " + c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << c.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
  }
  // A cut file either fails in one line or gives the frames before the cut; never a crash, never a partial file.
  const test::RunResult cut = run("upscale " + model() + " -i " + path("cut.mkv") + " -o " + path("cut_out.mkv"));
  EXPECT_TRUE(cut.exit_code == 0 || cut.exit_code == 1) << cut.exit_code << ": " << cut.err;
  EXPECT_NE(cut.err.find("cut.mkv"), std::string::npos) << cut.err;  // the damage is named either way
  std::vector<std::string> left = left_behind();
  std::sort(left.begin(), left.end());
  std::vector<std::string> want = {"cut.mkv", "empty.mkv", "fast.y4m", "huge.y4m", "playlist.avi", "text.mp4"};
  if (cut.exit_code == 0) want.insert(want.begin() + 1, "cut_out.mkv");
  EXPECT_EQ(left, want);
}

TEST_F(VideoTest, TheLibraryUpscalesVideos) {
  UpscalerOptions o;
  o.model = "x4fast";
  o.model_dir = test::model_dir();
  o.scale = 3;
  auto up = Upscaler::create(o);
  ASSERT_TRUE(up.ok()) << up.status().message();
  auto r = up->upscale_video(clip_, path("lib.webm"), VideoSettings{"libvpx-vp9", 30, "", ""});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->frames, 6);
  EXPECT_EQ(r->out_width, 96);
  EXPECT_EQ(r->out_height, 72);
  EXPECT_EQ(r->encoder, "libvpx-vp9 yuv420p crf 30");
  ASSERT_EQ(r->notes.size(), 2u);  // WebM holds Opus/Vorbis and WebVTT, not PCM or SubRip
  EXPECT_NE(r->notes[0].find("pcm_s16le"), std::string::npos) << r->notes[0];
  EXPECT_NE(r->notes[1].find("subrip"), std::string::npos) << r->notes[1];
  const std::vector<test::ProbedStream> got = test::probe(path("lib.webm"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].codec, "vp9");
  EXPECT_EQ(times(got[0]), std::vector<long long>(spec_.frame_ms.begin(), spec_.frame_ms.end()));
  auto bad = up->upscale_video(path("none.mkv"), path("none_out.mkv"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("none.mkv"), std::string::npos) << bad.status().message();
  // A stop from the callback is marked as one (status.h), across the plugin; it was an error.
  auto stopped = up->upscale_video(clip_, path("stopped.mkv"), {}, [](long long, long long) { return false; });
  ASSERT_FALSE(stopped.ok());
  EXPECT_TRUE(stopped.status().is_stopped()) << stopped.status().message();
  EXPECT_FALSE(std::filesystem::exists(path("stopped.mkv")));
}

// MPEG-TS keeps times in 1/90000 s, which MPEG-4 part 2 refuses as its time base (at most 1/65535) and MPEG-2
// too (standard frame rates only): they get 1/60000 and 1 / the frame rate, the frames keep their times (from the
// input's start), and the refused attempts leave no FFmpeg errors in the report.
TEST_F(VideoTest, EncodersThatRefuseTheSourceTimeBaseGetOneTheyTake) {
  video::VideoJob to_ts = identity_job("clip.ts");
  to_ts.options.codec = "libx264";
  video::VideoReport ts_report;
  ASSERT_TRUE(video::upscale_video(to_ts, &ts_report).ok());
  const std::vector<test::ProbedStream> source = test::probe(to_ts.output);
  ASSERT_GE(source.size(), 1u);
  for (const auto& [codec, step] : {std::pair{"mpeg4", "1/60000 s"}, std::pair{"mpeg2video", "1/25 s"}}) {
    video::VideoJob job = identity_job(codec == std::string("mpeg4") ? "part2.mkv" : "mpeg2.mkv");
    job.input = to_ts.output;
    job.options.codec = codec;
    video::VideoReport report;
    const Status st = video::upscale_video(job, &report);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_NE(report.encoder.find(std::string("frame times rounded to steps of ") + step), std::string::npos)
        << report.encoder;
    EXPECT_TRUE(report.library_errors.empty()) << report.library_errors.front();
    const std::vector<test::ProbedStream> got = test::probe(job.output);
    ASSERT_GE(got.size(), 1u);
    EXPECT_EQ(got[0].codec, std::string(codec) == "mpeg2video" ? "mpeg2video" : "mpeg4");
    // The TS's times, from its start: x264's B-frames moved them on by 80 ms there, the output starts at 0 again.
    ASSERT_EQ(times(source[0]).size(), spec_.frame_ms.size());
    EXPECT_EQ(times(source[0]).front(), 80);
    EXPECT_EQ(times(got[0]), std::vector<long long>(spec_.frame_ms.begin(), spec_.frame_ms.end())) << codec;
  }
}

TEST_F(VideoTest, AFrameThatFailsStopsTheJobAndLeavesNoFile) {
  video::VideoJob job = identity_job("never.mkv");
  int calls = 0;
  job.upscale = [&](const Image& frame) -> Result<Image> {
    if (++calls == 4) return Status::error("out of memory for a tile");
    return frame;
  };
  video::VideoReport report;
  const Status st = video::upscale_video(job, &report);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), clip_ + ": frame 3: out of memory for a tile");
  EXPECT_EQ(calls, 4);  // nothing upscaled after the failure
  EXPECT_TRUE(left_behind().empty());
}

// An upscale that throws (an allocation outside a tile's retry; a bug) fails the job the same way, where on the
// upscale thread it would have ended the process.
TEST_F(VideoTest, AFrameThatThrowsStopsTheJobAndLeavesNoFile) {
  for (const bool memory : {true, false}) {
    video::VideoJob job = identity_job("never.mkv");
    int calls = 0;
    job.upscale = [&](const Image& frame) -> Result<Image> {
      if (++calls == 2) {
        if (memory) throw std::bad_alloc();
        throw std::runtime_error("a bug");
      }
      return frame;
    };
    video::VideoReport report;
    const Status st = video::upscale_video(job, &report);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(), clip_ + ": frame 1: " + (memory ? "out of memory" : "internal error: a bug"));
    EXPECT_EQ(st.is_out_of_memory(), memory);
    EXPECT_TRUE(left_behind().empty());
  }
}

TEST_F(VideoTest, ACancelledJobWritesNothing) {
  video::VideoJob job = identity_job("cancelled.mkv");
  std::atomic<bool> cancel{false};
  job.cancel = &cancel;
  job.on_frame = [&](std::int64_t done, std::int64_t) {
    if (done == 2) cancel = true;  // as Ctrl-C would, after two frames were written
  };
  const Status st = video::upscale_video(job, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("interrupted"), std::string::npos) << st.message();
  EXPECT_TRUE(st.is_stopped());  // a stop, not a failure of the video (status.h); it was an error
  EXPECT_TRUE(left_behind().empty());
}

TEST_F(VideoTest, AJobCancelledAtItsLastFrameWritesNothing) {
  video::VideoJob job = identity_job("cancelled_late.mkv");
  std::atomic<bool> cancel{false};
  job.cancel = &cancel;
  // By then the reader is done: the writer must notice the stop before completing the file.
  job.on_frame = [&](std::int64_t done, std::int64_t) { cancel = done == std::int64_t(spec_.frame_ms.size()); };
  const Status st = video::upscale_video(job, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("interrupted"), std::string::npos) << st.message();
  EXPECT_TRUE(st.is_stopped());  // a stop, not a failure of the video (status.h); it was an error
  EXPECT_TRUE(left_behind().empty());
}

TEST_F(VideoTest, TheJobSeesEveryFrameInOrderOnce) {
  video::VideoJob job = identity_job("same.mkv");
  job.options.pixel_format = "bgr0";
  std::vector<std::vector<std::uint8_t>> seen;
  job.upscale = [&](const Image& frame) -> Result<Image> {
    seen.push_back(frame.bytes);
    return frame;
  };
  std::vector<std::int64_t> progress;
  job.on_frame = [&](std::int64_t done, std::int64_t) { progress.push_back(done); };
  video::VideoReport report;
  ASSERT_TRUE(video::upscale_video(job, &report).ok());
  const std::vector<Image> in = frames_of(clip_), out = frames_of(job.output);
  ASSERT_EQ(seen.size(), in.size());
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(seen[i], in[i].bytes) << i;
    EXPECT_EQ(out[i].bytes, in[i].bytes) << i;  // bgr0 in and out: the identity is exact
  }
  EXPECT_EQ(report.frames, std::int64_t(in.size()));
  EXPECT_EQ(progress.size(), in.size());
  EXPECT_EQ(report.encoder, "ffv1 bgr0");

  // Matroska keeps no frame count; the file written holds each track's duration, from which progress estimates it
  // (within a frame: this clip's frames are unevenly spaced; 0 was "unknown").
  auto written = video::VideoReader::open(job.output);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_NEAR(double((*written)->frame_count_hint()), double(in.size()), 1.0);
}

}  // namespace
}  // namespace resr
