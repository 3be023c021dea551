#include "video_command.h"
#include "core/elapsed.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "commands.h"
#include "engine/backend_factory.h"
#include "video/video_path.h"
#include "video/video_plugin.h"

#include <nlohmann/json.hpp>

#include "pipeline/report.h"

namespace resr::cli {
namespace {

// Ctrl-C (or a TERM) during a long video stops it cleanly: the partial output is removed. A second one kills.
std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int signal) {
  interrupted.store(true);
  std::signal(signal, SIG_DFL);
}

}  // namespace

int run_video_upscale(const VideoCommand& c) {
  const auto wall0 = std::chrono::steady_clock::now();
  if (!video::is_video_path(c.output))
    return fail(c.output + ": the output of a video must be a video file (.mp4, .mkv, .mov, .webm, ...)");
  auto upscale_video = video::load_video_plugin();
  if (!upscale_video) return fail(upscale_video.status().message());

  const engine::GpuWarmUp warm_up(c.model.backend);
  auto model = engine::load_model(c.model.source);
  if (!model) return fail(model.status().message());
  auto compiled = engine::CompiledModel::compile(*model, c.model.backend, c.model.backend_options());
  if (!compiled) return fail(compiled.status().message());

  video::VideoJob job;
  job.input = c.input;
  job.output = c.output;
  job.options = c.video;
  job.library_log = c.verbose;
  job.cancel = &interrupted;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  job.upscale = [&](const Image& frame) { return engine::upscale_image(frame, *compiled, c.settings); };
  job.output_size = [&](int w, int h) { return engine::output_size(w, h, model->summary, c.settings); };
  const bool tty = ::isatty(2) != 0;
  if (tty || c.verbose) {
    job.on_frame = [tty](std::int64_t done, std::int64_t total) {
      if (!tty && done % 100 != 0) return;
      const std::string of = total > 0 ? "/" + std::to_string(total) : "";
      std::fprintf(stderr, "%sframes %lld%s%s", tty ? "\r\033[K" : "", static_cast<long long>(done), of.c_str(),
                   tty ? "" : "\n");
    };
  }
  video::VideoReport report;
  Status status;
  (*upscale_video)(job, &report, &status);
  if (tty && job.on_frame) std::fprintf(stderr, "\r\033[K");
  if (!status.ok()) return fail(status.message());
  for (const std::string& note : video::report_notes(job, report)) std::fprintf(stderr, "resr: %s\n", note.c_str());
  const double wall_ms = ms_since(wall0);
  if (c.verbose || c.profile)
    std::fprintf(stderr, "%s -> %s: %lld frames, %dx%d -> %dx%d, %s, %s\n", c.input.c_str(), c.output.c_str(),
                 static_cast<long long>(report.frames), report.in_width, report.in_height, report.out_width,
                 report.out_height, report.encoder.c_str(), compiled->backend_name().c_str());
  if (!c.report.empty()) {
    const nlohmann::json json = {
        {"schema", "resr-video-report"},
        {"version", 1},
        {"model",
         {{"name", model->name},
          {"path", model->param_path},
          {"architecture", model->summary.architecture},
          {"scale", model->summary.scale}}},
        {"backend", compiled->backend_name()},
        {"input", c.input},
        {"output", c.output},
        {"frames", report.frames},
        {"input_size", {report.in_width, report.in_height}},
        {"output_size", {report.out_width, report.out_height}},
        {"encoder", report.encoder},
        {"ms", {{"decode", report.decode_ms}, {"upscale", report.upscale_ms}, {"encode", report.encode_ms}}},
        {"wall_ms", wall_ms},
        {"frames_per_second", report.frames * 1000.0 / wall_ms},
        {"notes", video::report_notes(job, report)},
    };
    const Status written = pipeline::write_text_atomically(c.report, json.dump(2) + "\n");
    if (!written.ok()) return fail(c.report + ": " + written.message());
  }
  if (c.profile)
    std::printf(
        "frames %lld: decode %.1f ms, upscale %.1f ms, encode %.1f ms (overlapping threads); wall %.1f ms, "
        "%.2f frames/s\n",
        static_cast<long long>(report.frames), report.decode_ms, report.upscale_ms, report.encode_ms, wall_ms,
        report.frames * 1000.0 / wall_ms);
  return 0;
}

}  // namespace resr::cli
