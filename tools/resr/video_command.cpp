#include "video_command.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "core/elapsed.h"
#include "core/json_text.h"
#include "core/staged_file.h"
#include "engine/backend_factory.h"
#include "interrupt.h"
#include "precision_notices.h"
#include "video/video_path.h"
#include "video/video_plugin.h"

namespace resr::cli {
namespace {

nlohmann::json video_json(const video::VideoJob& job, const video::VideoReport& r, const Status& status, double wall_ms,
                          const std::vector<std::string>& notes) {
  nlohmann::json v = {{"input", job.input}, {"output", job.output}, {"ok", status.ok()}};
  if (!status.ok()) {
    v["error"] = status.message();
    return v;
  }
  v["frames"] = r.frames;
  v["input_size"] = {r.in_width, r.in_height};
  v["output_size"] = {r.out_width, r.out_height};
  v["encoder"] = r.encoder;
  v["ms"] = {{"decode", r.decode_ms}, {"upscale", r.upscale_ms}, {"encode", r.encode_ms}};
  v["wall_ms"] = wall_ms;
  v["frames_per_second"] = r.frames * 1000.0 / wall_ms;
  v["notes"] = notes;
  return v;
}

// The video's notes: the plugin's, and a --crf the encoder had no use for (ffv1, say), which was dropped unsaid.
std::vector<std::string> notes_of(const VideoCommand& c, const video::VideoJob& job, const video::VideoReport& r) {
  std::vector<std::string> notes = video::report_notes(job, r);
  if (c.crf_given && !r.crf_used)
    notes.push_back(job.output + ": the " + r.codec + " encoder has no CRF setting; --crf " +
                    std::to_string(c.video.crf) + " was not used");
  return notes;
}

}  // namespace

int run_video_upscale(const VideoCommand& c) {
  const auto wall0 = std::chrono::steady_clock::now();
  for (const auto& [input, output] : c.files)
    if (!video::is_video_path(output))
      return fail(output + ": the output of a video must be a video file (.mp4, .mkv, .mov, .webm, ...)");
  auto plugin = video::load_video_plugin();
  if (!plugin) return fail(plugin.status().message());
  if (c.verbose) std::fprintf(stderr, "video plugin %s\n", plugin->path.c_str());

  // Ctrl-C from here on, the model's loading included; a video stopped by it has its partial output removed, and a
  // second one (quitting at once) removes it through the plugin, whose files are its own.
  catch_interrupts();
  also_for_library(plugin->remove_temporaries, plugin->give_up_writes);
  std::optional<engine::GpuWarmUp> warm_up;
  std::optional<engine::LoadedModel> owned;
  if (c.loaded == nullptr) {
    warm_up.emplace(c.model.backend);  // the GPU's start-up overlaps reading the model
    auto read = engine::load_model(c.model.upscale_source());
    if (!read) return fail(read.status().message());
    owned = std::move(*read);
    note_assumed_activation(*owned);
  }
  const engine::LoadedModel* model = c.loaded != nullptr ? c.loaded : &*owned;
  if (Status st = check_spares_model("--report", c.report, *model); !st.ok()) return fail(st.message());
  if (c.loaded == nullptr) note_fp8_emulated(*model, c.model.backend);  // a folder's images said it already
  auto compiled = engine::CompiledModel::compile(*model, c.model.backend, c.model.backend_options());
  if (!compiled) return fail(compiled.status().message());
  if (interrupted().load()) {
    std::fprintf(stderr, "resr: interrupted: 0 of %zu videos written\n", c.files.size());
    return interrupted_exit();
  }

  const bool tty = ::isatty(2) != 0;
  nlohmann::json videos = nlohmann::json::array();
  int failed = 0;
  for (const auto& [input, output] : c.files) {
    const auto video0 = std::chrono::steady_clock::now();
    video::VideoJob job;
    job.input = input;
    job.output = output;
    job.options = c.video;
    job.library_log = c.verbose;
    job.cancel = &interrupted();
    job.upscale = [&](const Image& frame) { return engine::upscale_image(frame, *compiled, c.settings); };
    job.output_size = [&](int w, int h) { return engine::output_size(w, h, model->summary, c.settings); };
    if (tty || c.verbose) {
      job.on_frame = [tty](std::int64_t done, std::int64_t total) {
        if (!tty && done % 100 != 0) return;
        // total may be an estimate (from the duration): not shown once passed
        const std::string of = total >= done ? "/" + std::to_string(total) : "";
        std::fprintf(stderr, "%sframes %lld%s%s", tty ? "\r\033[K" : "", static_cast<long long>(done), of.c_str(),
                     tty ? "" : "\n");
      };
    }
    video::VideoReport report;
    Status status;
    plugin->upscale_video(job, &report, &status);
    if (tty && job.on_frame) std::fprintf(stderr, "\r\033[K");
    const double video_ms = ms_since(video0);
    const std::vector<std::string> notes = status.ok() ? notes_of(c, job, report) : std::vector<std::string>();
    videos.push_back(video_json(job, report, status, video_ms, notes));
    if (!status.ok()) {
      ++failed;
      say(status.message());
      if (interrupted().load()) break;  // the user stopped the whole run, not this video
      continue;
    }
    for (const std::string& note : notes) say(note);
    if (c.verbose || c.profile)
      std::fprintf(stderr, "%s -> %s: %lld frames, %dx%d -> %dx%d, %s, %s\n", input.c_str(), output.c_str(),
                   static_cast<long long>(report.frames), report.in_width, report.in_height, report.out_width,
                   report.out_height, report.encoder.c_str(), compiled->backend_name().c_str());
    if (c.profile)
      std::printf(
          "%s: frames %lld: decode %.1f ms, upscale %.1f ms, encode %.1f ms (overlapping threads); wall %.1f ms, "
          "%.2f frames/s\n",
          input.c_str(), static_cast<long long>(report.frames), report.decode_ms, report.upscale_ms, report.encode_ms,
          video_ms, report.frames * 1000.0 / video_ms);
  }
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
        {"videos", videos},
        {"wall_ms", ms_since(wall0)},
    };
    const Status written = write_file_atomically(c.report, json_text(json) + "\n");
    if (!written.ok()) return fail(c.report + ": " + written.message());
  }
  // Stopped: said as an image folder says it (it said "1 of 3 videos failed", as if two had been written).
  if (interrupted().load()) {
    if (c.files.size() > 1)
      std::fprintf(stderr, "resr: interrupted: %zu of %zu videos written\n", videos.size() - std::size_t(failed),
                   c.files.size());
    return interrupted_exit();
  }
  if (failed > 0 && c.files.size() > 1) std::fprintf(stderr, "resr: %d of %zu videos failed\n", failed, c.files.size());
  return failed > 0 ? 1 : 0;
}

}  // namespace resr::cli
