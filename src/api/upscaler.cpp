#include <resr/resr.h>

#include <atomic>
#include <cstdio>
#include <map>

#include "api/model_source.h"
#include "api/stop_on_false.h"
#include "core/file_names.h"
#include "engine/compiled_model.h"
#include "engine/host_memory.h"
#include "engine/model_loader.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/codec_formats.h"
#include "pipeline/image_pipeline.h"
#include "video/video_path.h"
#include "video/video_plugin.h"

namespace resr {
namespace {

using api_detail::StopOnFalse;

// Options the engine would take but misuse: checked once, with the option's name in the message.
Status check_options(const UpscalerOptions& o) {
  auto out_of_range = [](const char* name, const std::string& value, const char* range) {
    return Status::error(std::string(name) + " must be " + range + ", got " + value);
  };
  auto out_of_range_int = [&](const char* name, int v, const char* range) {  // every digit ("%g": 1.23457e+06)
    return out_of_range(name, std::to_string(v), range);
  };
  if (!(o.scale == 0 || (o.scale >= 0.01 && o.scale <= 64))) {  // the CLI's -s range
    char value[32];
    std::snprintf(value, sizeof value, "%g", o.scale);
    return out_of_range("scale", value, "in [0.01, 64] (or 0: the model's)");
  }
  if (o.width < 0 || o.width > 65536) return out_of_range_int("width", o.width, "in [1, 65536] (or 0)");
  if (o.height < 0 || o.height > 65536) return out_of_range_int("height", o.height, "in [1, 65536] (or 0)");
  if (o.scale != 0 && (o.width != 0 || o.height != 0))  // the CLI's -s excludes --width and --height too
    return Status::error("scale and width/height: set one of them (width/height give the exact size)");
  if (o.tile < 0 || o.tile > 65536) return out_of_range_int("tile", o.tile, "in [1, 65536] (or 0: automatic)");
  if (o.tile_pad < -1 || o.tile_pad > 1024) return out_of_range_int("tile_pad", o.tile_pad, "in [0, 1024] (or -1)");
  if (o.quality < 1 || o.quality > 100) return out_of_range_int("quality", o.quality, "in [1, 100]");
  if (o.alpha != "model" && o.alpha != "bicubic")
    return Status::error("alpha must be 'model' or 'bicubic', got '" + o.alpha + "'");
  return ok_status();
}

StageTimes stage_times(const pipeline::StageMs& ms, int tiles, int memory_retries) {
  return StageTimes{ms.decode, ms.preprocess, ms.inference, ms.postprocess, ms.encode, tiles, memory_retries};
}

}  // namespace

struct Upscaler::Impl {
  engine::LoadedModel model;
  engine::CompiledModel compiled;
  engine::UpscaleSettings settings;
  EncodeOptions encode;
};

Upscaler::Upscaler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Upscaler::Upscaler(Upscaler&&) noexcept = default;
Upscaler& Upscaler::operator=(Upscaler&&) noexcept = default;
Upscaler::~Upscaler() = default;

Result<Upscaler> Upscaler::create(const UpscalerOptions& o) {
  RESR_RETURN_IF_ERROR(check_options(o));
  RESR_ASSIGN_OR_RETURN(const engine::ModelSource source, api_detail::model_source(o));
  RESR_ASSIGN_OR_RETURN(engine::LoadedModel model, engine::load_model(source));
  engine::BackendOptions backend_options;
  backend_options.fp32_as_fp16 = !o.fp32;
  backend_options.cpu_bf16 = o.bf16;
  RESR_ASSIGN_OR_RETURN(engine::CompiledModel compiled,
                        engine::CompiledModel::compile(model, o.backend, backend_options));
  auto impl = std::make_unique<Impl>(Impl{std::move(model), std::move(compiled), {}, {}});
  impl->settings.scale = o.scale;
  impl->settings.width = o.width;
  impl->settings.height = o.height;
  impl->settings.alpha = o.alpha == "bicubic" ? engine::AlphaMode::kBicubic : engine::AlphaMode::kModel;
  impl->settings.tile = o.tile;
  impl->settings.tile_pad = o.tile_pad;
  impl->settings.tta = o.tta;
  impl->settings.host_budget_bytes = engine::host_tile_budget(engine::available_host_memory(), 1);
  impl->encode.quality = o.quality;
  impl->encode.lossless = o.lossless;
  return Upscaler(std::move(impl));
}

std::string Upscaler::architecture() const {
  return impl_->model.summary.architecture;
}
int Upscaler::model_scale() const {
  return impl_->model.summary.scale;
}
std::string Upscaler::backend() const {
  return impl_->compiled.backend_name();
}
bool Upscaler::activation_assumed() const {
  return impl_->model.activation_assumed;
}
std::string Upscaler::denoise_model() const {
  return impl_->model.dn_path;
}

namespace {

// The engine's settings with the caller's progress callback: on_tile reports, and its false stops the image.
engine::UpscaleSettings with_progress(engine::UpscaleSettings s, StopOnFalse<int, int>& progress) {
  s.on_tile = progress.reporter();
  s.stop = progress.stopper();
  return s;
}

}  // namespace

Result<std::pair<int, int>> Upscaler::output_size(int width, int height) const {
  return engine::output_size(width, height, impl_->model.summary, impl_->settings);
}

Result<Image> Upscaler::upscale(const Image& image, StageTimes* times, const std::function<bool(int, int)>& on_tile) {
  RESR_RETURN_IF_ERROR(image_detail::check_image_layout(image));  // images built by hand (the Python bindings' arrays)
  engine::StageTimes t;
  StopOnFalse<int, int> progress(on_tile);
  Result<Image> out = engine::upscale_image(image, impl_->compiled, with_progress(impl_->settings, progress), &t);
  if (times != nullptr)
    *times = StageTimes{0, t.preprocess_ms, t.inference_ms, t.postprocess_ms, 0, t.tiles, t.memory_retries};
  return out;
}

Status Upscaler::upscale_file(const std::string& input, const std::string& output, StageTimes* times,
                              const std::function<bool(int, int)>& on_tile) {
  FileResult r = std::move(run_files({{input, output}}, {}, on_tile).front());
  if (times != nullptr) *times = r.times;
  return r.status;
}

std::vector<FileResult> Upscaler::upscale_files(const std::vector<std::pair<std::string, std::string>>& jobs,
                                                FileThreads threads, const std::function<bool(int, int)>& on_tile) {
  return run_files(jobs, threads, on_tile);
}

std::vector<FileResult> Upscaler::run_files(const std::vector<std::pair<std::string, std::string>>& jobs,
                                            FileThreads threads, const std::function<bool(int, int)>& on_tile) {
  if (threads.load < 1 || threads.load > kMaxFileThreads || threads.save < 1 || threads.save > kMaxFileThreads) {
    const Status refused =
        Status::error("load and save threads must be in [1, " + std::to_string(kMaxFileThreads) + "], got " +
                      std::to_string(threads.load) + " and " + std::to_string(threads.save));
    std::vector<FileResult> results;
    results.reserve(jobs.size());
    for (const auto& [input, output] : jobs)
      results.push_back(FileResult{input, output, refused.with_context(input), 0, 0, 0, 0, {}});
    return results;
  }
  // A job whose output is its input, or an earlier job's output, fails alone before any work; the others run.
  // (Both reported success while the later one's image replaced the earlier one's.) So does one whose input is
  // another job's output: with the jobs overlapping, it read the old file or the new one by timing.
  std::vector<FileResult> results(jobs.size());
  std::vector<pipeline::Job> pipeline_jobs;
  std::vector<std::size_t> slot;                  // pipeline job -> its place in `results`
  std::map<std::string, std::string> written_by;  // an output that will be written, as one file's name -> its input
  std::vector<Status> refusals(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto& [input, output] = jobs[i];
    Status& refused = refusals[i];
    refused = check_output_path(output, {input});
    if (refused.ok()) {
      const auto [it, fresh] = written_by.emplace(file_identity(output), input);
      if (!fresh)
        refused = Status::error(output + ": also the output of " + it->second + "; give each job its own output");
    }
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto& [input, output] = jobs[i];
    Status& refused = refusals[i];
    if (const auto made = written_by.find(file_identity(input)); refused.ok() && made != written_by.end())
      refused = Status::error(input + ": also the output of the job upscaling " + made->second +
                              "; upscale it in a later call");
    if (!refused.ok()) {
      results[i] = FileResult{input, output, std::move(refused), 0, 0, 0, 0, {}};
      continue;
    }
    pipeline_jobs.push_back({input, output});
    slot.push_back(i);
  }
  if (pipeline_jobs.empty()) return results;
  pipeline::PipelineConfig config;
  config.load_threads = threads.load;
  config.save_threads = threads.save;
  config.encode = impl_->encode;
  config.check_size = [impl = impl_.get()](int w, int h) {
    return engine::check_stored_size(w, h, impl->model.summary, impl->settings);
  };
  // A false from on_tile stops the image in flight, and through the cancel flag the images not begun.
  std::atomic<bool> stop{false};
  config.cancel = &stop;
  std::function<bool(int, int)> tile_hook;
  if (on_tile)
    tile_hook = [&on_tile, &stop](int done, int total) {
      const bool go = on_tile(done, total);
      if (!go) stop = true;
      return go;
    };
  // One process thread, on this Upscaler's compiled model (an Upscaler is used by one thread at a time).
  Impl* impl = impl_.get();
  auto processor = [impl, &tile_hook]() -> Result<pipeline::Processor> {
    return pipeline::Processor(
        [impl, &tile_hook](const Image& in, engine::StageTimes* times, const std::function<void(int, int)>&) {
          StopOnFalse<int, int> progress(tile_hook);  // per image, on the one process thread
          return engine::upscale_image(in, impl->compiled, with_progress(impl->settings, progress), times);
        });
  };
  std::vector<pipeline::JobResult> done = pipeline::run_pipeline(pipeline_jobs, config, processor);
  for (std::size_t k = 0; k < done.size(); ++k) {
    pipeline::JobResult& r = done[k];
    results[slot[k]] = FileResult{std::move(r.job.input),
                                  std::move(r.job.output),
                                  std::move(r.status),
                                  r.in_w,
                                  r.in_h,
                                  r.out_w,
                                  r.out_h,
                                  stage_times(r.ms, r.tiles, r.memory_retries)};
  }
  return results;
}

Result<VideoResult> Upscaler::upscale_video(const std::string& input, const std::string& output,
                                            const VideoSettings& settings,
                                            const std::function<bool(long long, long long)>& on_frame) {
  RESR_RETURN_IF_ERROR(check_output_path(output, {input}));
  if (!video::is_video_path(output))  // an image name made FFmpeg's image muxer write frames past the staging
    return Status::error(output + ": the output of a video must be a video file (.mp4, .mkv, .mov, .webm, ...)");
  RESR_ASSIGN_OR_RETURN(const video::VideoPlugin plugin, video::load_video_plugin());
  video::VideoJob job;
  job.input = input;
  job.output = output;
  job.options = video::VideoOptions{settings.codec, settings.crf, settings.preset, settings.pixel_format};
  job.upscale = [this](const Image& frame) { return engine::upscale_image(frame, impl_->compiled, impl_->settings); };
  job.output_size = [this](int w, int h) { return engine::output_size(w, h, impl_->model.summary, impl_->settings); };
  std::atomic<bool> stop{false};
  job.cancel = &stop;
  if (on_frame)
    job.on_frame = [&](std::int64_t done, std::int64_t total) {
      if (!on_frame(done, total)) stop = true;
    };
  video::VideoReport report;
  Status status;
  plugin.upscale_video(job, &report, &status);
  RESR_RETURN_IF_ERROR(status);
  return VideoResult{
      report.frames,    report.in_width,   report.in_height, report.out_width, report.out_height,
      report.decode_ms, report.upscale_ms, report.encode_ms, report.encoder,   video::report_notes(job, report)};
}

}  // namespace resr
