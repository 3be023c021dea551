// The video plugin: libresr_video.so (this folder, linked with FFmpeg's libraries) upscales a video file frame by
// frame through a callback, so that resr itself needs none of FFmpeg's ~140 MiB of libraries to start; it loads
// the plugin only when it is given a video. Both sides are built from one tree by one compiler, and the entry
// point's name carries the contract's version.
//
//   Result<VideoPlugin> plugin = load_video_plugin();   // resr_video_loader
//   VideoJob job{in, out, options, upscale_frame, output_size, on_frame};
//   VideoReport report;
//   Status status;
//   plugin->upscale_video(job, &report, &status);
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "image/image.h"
#include "video/video_writer.h"

namespace resr::video {

struct VideoJob {
  std::string input, output;
  VideoOptions options;
  // Upscales one 8-bit RGB frame; called on one thread, in frame order.
  std::function<Result<Image>(const Image&)> upscale;
  // The output frame size for the input's (the model's scale, or the user's size).
  std::function<Result<std::pair<int, int>>(int width, int height)> output_size;
  // total: VideoReader::frame_count_hint (the container's count, or estimated from the duration, which frames_done
  // may pass; 0: unknown)
  std::function<void(std::int64_t frames_done, std::int64_t frames_total)> on_frame;
  bool library_log = false;  // FFmpeg's own messages on stderr (else silent: errors come back as one Status)
  // Set (from any thread, or a signal handler) to stop: the job ends with "interrupted" and writes nothing.
  const std::atomic<bool>* cancel = nullptr;
};

struct VideoReport {
  std::int64_t frames = 0;
  int in_width = 0, in_height = 0, out_width = 0, out_height = 0;
  double decode_ms = 0, upscale_ms = 0, encode_ms = 0;  // each stage's own time; they overlap on three threads
  std::string encoder;                                  // "libx264 yuv420p crf 18", for people
  std::string codec, pixel_format;                      // the same as fields: "libx264", "yuv420p"
  bool crf_used = false;                                // the encoder took the CRF
  std::vector<std::string> dropped_streams;             // source streams the output container cannot hold
  // Copied streams with packets that went back in time, moved on; and VideoReader::damage(): damaged video
  // packets skipped.
  std::vector<std::string> retimed_streams;
  std::string damage;
  // Errors FFmpeg logged and recovered from ("File ended prematurely"): the output holds what could be read.
  std::vector<std::string> library_errors;
  // What the container's frame count, or its duration times its average frame rate, gives
  // (VideoReader::declared_frame_count); 0: unknown. Many fewer frames read than this: the file is likely cut short.
  std::int64_t frames_declared = 0;
};

// Decodes, upscales and encodes on three threads joined by bounded queues; the other streams are copied.
// Errors name the file (input or output) and, for a frame, its number; no output file is left behind.
Status upscale_video(const VideoJob& job, VideoReport* report);

// One line per thing the user should know of a finished job (resr_video_loader): damage FFmpeg recovered from,
// many fewer frames than the container declares, streams not copied, packets moved on, damaged packets skipped;
// each names its file.
std::vector<std::string> report_notes(const VideoJob& job, const VideoReport& report);

using UpscaleVideoFn = void (*)(const VideoJob& job, VideoReport* report, Status* status);
// Bumped whenever a type that crosses the boundary changes (v2: Status gained its out-of-memory mark; v3:
// VideoReport its retimed streams and damage; v4: its frames declared; v5: Image its other_images; v6: Image its
// XMP, resolution and PNG texts; v7: Image its PNG colour, VideoReport its encoder as fields), so that a plugin of
// another build is refused by name rather than called with another layout.
inline constexpr const char* kUpscaleVideoSymbol = "resr_upscale_video_v7";
inline constexpr const char* kVideoPluginFile = "libresr_video.so";
// The plugin's remove_staged_temporaries (core/staged_file.h): its StagedFiles are its own, and a signal handler
// of the executable quitting at once removes their temporaries through it. Async-signal-safe.
using RemoveTemporariesFn = void (*)();
inline constexpr const char* kRemoveTemporariesSymbol = "resr_remove_staged_temporaries_v1";
// The plugin's give_up_interrupted_writes (core/staged_file.h), for the executable's first signal: a video written
// into a pipe no one reads then ends too. Async-signal-safe.
using GiveUpWritesFn = void (*)();
inline constexpr const char* kGiveUpWritesSymbol = "resr_give_up_interrupted_writes_v1";

// The plugin named by $RESR_VIDEO_PLUGIN, else beside the running executable, else where `cmake --install` puts
// it (LIBDIR/resr, beside the executable's ../ or under the configured prefix), else in the build's bin/, else
// on the library path. Error: it does not load (with what to install).
struct VideoPlugin {
  UpscaleVideoFn upscale_video = nullptr;
  RemoveTemporariesFn remove_temporaries = nullptr;
  GiveUpWritesFn give_up_writes = nullptr;
  std::string path;  // the file loaded
};
Result<VideoPlugin> load_video_plugin();

}  // namespace resr::video
