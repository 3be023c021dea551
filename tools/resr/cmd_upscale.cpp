// resr upscale: one image or a folder of images, tiled, through load -> process -> save threads.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "commands.h"
#include "convert/file_checks.h"
#include "core/elapsed.h"
#include "core/file_names.h"
#include "engine/backend_factory.h"
#include "engine/host_memory.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/image_files.h"
#include "interrupt.h"
#include "model_options.h"
#include "number_checks.h"
#include "pipeline/image_pipeline.h"
#include "pipeline/report.h"
#include "precision_notices.h"
#include "video/video_path.h"
#include "video_command.h"

namespace resr::cli {
namespace {
namespace fs = std::filesystem;

struct UpscaleOptions {
  ModelOptions model;
  std::string input, output;
  int tile = 0, tile_pad = -1;
  int tile_memory_mib = 0;
  double scale = 0;
  int width = 0, height = 0;
  std::string alpha = "model";
  bool tta = false;
  std::string format;
  int quality = 95;
  bool lossless = false;  // WebP outputs
  std::string threads = "1:1:1";
  bool image_options_given = false;  // -f, -q, --lossless or -j: they apply to images, not to videos
  bool video_options_given = false;  // --vcodec, --crf, --preset or --pix-fmt: to videos, not to images
  bool crf_given = false;
  bool verbose = false, profile = false;
  std::string report;
  bool niqe = false;  // NIQE of each output in the report
  video::VideoOptions video;
};

// The settings of a run that upscales `concurrent_images` images at once (the host's or GPU's budget is split
// between them).
engine::UpscaleSettings settings_of(const UpscaleOptions& o, int concurrent_images) {
  engine::UpscaleSettings settings;
  settings.tile = o.tile;
  settings.tile_pad = o.tile_pad;
  settings.tile_memory_bytes = std::uint64_t(o.tile_memory_mib) << 20;
  settings.scale = o.scale;
  settings.width = o.width;
  settings.height = o.height;
  settings.alpha = o.alpha == "bicubic" ? engine::AlphaMode::kBicubic : engine::AlphaMode::kModel;
  settings.tta = o.tta;
  settings.host_budget_bytes = engine::host_tile_budget(engine::available_host_memory(), concurrent_images);
  settings.concurrent_images = concurrent_images;
  return settings;
}

// What to upscale: the one input, or a folder's images (through the image pipeline) and videos (one by one).
struct Jobs {
  std::vector<pipeline::Job> images;
  std::vector<std::pair<std::string, std::string>> videos;
  std::vector<std::string> left_out;  // a folder's files that are neither, by their extension
};

// ext: the output images' extension, or "auto" for each input's own.
Result<Jobs> make_jobs(const UpscaleOptions& o, const std::string& ext) {
  std::error_code ec;
  Jobs jobs;
  if (!fs::is_directory(o.input, ec)) {
    RESR_RETURN_IF_ERROR(check_output_path(o.output, {o.input}));
    if (fs::is_directory(o.output, ec))  // found only when the finished file could not be moved into place
      return Status::error(o.output + ": is a folder; give the output file's name (a folder takes a folder -i)");
    if (video::is_video_path(o.input)) {
      jobs.videos.emplace_back(o.input, o.output);
    } else if (video::is_video_path(o.output)) {  // the output was blamed ("unsupported output extension '.mkv'")
      return Status::error(o.input +
                           ": not a video by its extension (.mp4, .mkv, .mov, .webm, ...), so it cannot "
                           "become the video " +
                           o.output + " (images are written as .png, .jpg, .webp or .tif)");
    } else {
      // Found before the upscale rather than after it (a read-only folder, one that does not exist).
      RESR_RETURN_IF_ERROR(conversion::check_writable_file(o.output));
      jobs.images.push_back({o.input, o.output});
    }
    return jobs;
  }
  if (fs::exists(o.output, ec) && !fs::is_directory(o.output, ec))
    return Status::error(o.output + ": input is a folder, so the output must be a folder too");
  // A new folder named like an image or a video is likely a slip for a file (it was made as a folder).
  if (!fs::exists(o.output, ec) && (is_image_file_name(o.output) || video::is_video_path(o.output)))
    return Status::error(o.output +
                         ": input is a folder, so the output is a folder, and this name is a file's; name "
                         "the folder otherwise (or make it first)");
  RESR_ASSIGN_OR_RETURN(const std::vector<std::string> files,
                        list_files(o.input, [](const std::string&) { return true; }));
  std::vector<std::string> images, videos;
  for (const std::string& file : files) {
    if (is_image_file_name(file))
      images.push_back(file);
    else if (video::is_video_path(file))
      videos.push_back(file);
    else if (fs::path(file).filename().string().rfind('.', 0) != 0)
      jobs.left_out.push_back(file);  // named in a note, not skipped unseen (a JPEG without its extension)
  }
  if (images.empty() && videos.empty())
    return Status::error(o.input + ": no .png, .jpg, .webp or .tif images and no videos in the folder");
  // a.png and a.jpg would both become a.png (a.MP4 and a.mp4 both a.mp4): refused before any work, rather than
  // one overwriting the other.
  std::map<std::string, std::string> written_by;  // output -> the input it is made from
  auto claim = [&](const fs::path& in, const std::string& out, const char* hint) {
    RESR_RETURN_IF_ERROR(check_output_path(out, {in.string()}));
    if (const auto [it, fresh] = written_by.emplace(out, in.string()); !fresh)
      return Status::error(it->second + " and " + in.string() + " would both be written to " + out + hint);
    return ok_status();
  };
  for (const fs::path in : images) {
    const std::string name = ext == "auto" ? in.filename().string() : in.stem().string() + "." + ext;
    const std::string out = (fs::path(o.output) / name).string();
    RESR_RETURN_IF_ERROR(claim(in, out, " (-f auto keeps each image's own format and name)"));
    jobs.images.push_back({in.string(), out});
  }
  for (const fs::path in : videos) {  // the same container (the encoder follows it), in lower case
    const std::string out = (fs::path(o.output) / (in.stem().string() + lower_extension(in.string()))).string();
    RESR_RETURN_IF_ERROR(claim(in, out, ""));
    jobs.videos.emplace_back(in.string(), out);
  }
  return jobs;
}

// A folder's output folder, made once the run is past its checks and its model has loaded: a refused run creates
// nothing (an empty folder was left by a refused option, a report over an input, a model not found).
Status make_output_folder(const std::string& folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return Status::error(folder + ": cannot create folder: " + ec.message());
  return ok_status();
}

Result<pipeline::PipelineConfig> make_config(const UpscaleOptions& o) {
  pipeline::PipelineConfig cfg;
  const std::optional<std::vector<int>> threads = cli::parse_int_fields(o.threads, ':', 3);
  if (!threads || std::any_of(threads->begin(), threads->end(), [](int n) { return n < 1 || n > 64; }))
    return Status::error("-j: expected load:proc:save thread counts, e.g. 1:1:2, got '" + o.threads + "'");
  cfg.load_threads = (*threads)[0];
  cfg.proc_threads = (*threads)[1];
  cfg.save_threads = (*threads)[2];
  cfg.encode.quality = o.quality;
  cfg.encode.lossless = o.lossless;
  cfg.niqe = o.niqe;
  if (!o.format.empty() && o.format != "auto") {  // auto: each output's extension, the input's, decides
    RESR_ASSIGN_OR_RETURN(cfg.format, format_from_extension("x." + o.format));
    cfg.format_from_output_extension = false;
  }
  return cfg;
}

// The images of the run, on the model `run_upscale` read (in `load_ms`, after the run began at `wall0`), with Ctrl-C
// already caught.
int run_images(const UpscaleOptions& o, const pipeline::PipelineConfig& cfg, const std::vector<pipeline::Job>& jobs,
               bool folder, const engine::LoadedModel& model, double load_ms,
               std::chrono::steady_clock::time_point wall0) {
  // As many images at once as the pipeline runs: no more process threads than images.
  engine::UpscaleSettings settings = settings_of(o, std::min(cfg.proc_threads, int(jobs.size())));
  settings.stop = [] { return interrupted().load(); };
  pipeline::PipelineConfig run_cfg = cfg;
  run_cfg.cancel = &interrupted();
  run_cfg.check_size = [&model, settings](int w, int h) {
    return engine::check_stored_size(w, h, model.summary, settings);
  };
  std::string backend_name;
  double compile_ms = 0;  // the longest of the processors' compiles
  auto make_processor = [&]() -> Result<pipeline::Processor> {
    const auto compile0 = std::chrono::steady_clock::now();
    RESR_ASSIGN_OR_RETURN(engine::CompiledModel compiled,
                          engine::CompiledModel::compile(model, o.model.backend, o.model.backend_options()));
    compile_ms = std::max(compile_ms, ms_since(compile0));
    auto exe = std::make_shared<engine::CompiledModel>(std::move(compiled));
    backend_name = exe->backend_name();
    return pipeline::Processor(
        [exe, settings](const Image& in, engine::StageTimes* times, const std::function<void(int, int)>& on_tile) {
          engine::UpscaleSettings s = settings;
          s.on_tile = on_tile;
          return engine::upscale_image(in, *exe, s, times);
        });
  };

  note_fp8_emulated(model, o.model.backend);  // once, not per image
  const bool tty = ::isatty(2) != 0;
  pipeline::Progress progress;
  if (tty || o.verbose) {
    progress.on_file = [&](const pipeline::JobResult& r, int done, int total) {
      if (!r.status.ok()) return;  // failures are printed below, one line each
      std::fprintf(stderr, "%s[%d/%d] %s -> %s (%dx%d -> %dx%d, %.0f ms)\n", tty ? "\r\033[K" : "", done, total,
                   r.job.input.c_str(), r.job.output.c_str(), r.in_w, r.in_h, r.out_w, r.out_h, r.ms.total());
    };
  }
  if (tty) {
    progress.on_tile = [](int done, int total) { std::fprintf(stderr, "\r\033[Ktiles %d/%d", done, total); };
  } else if (o.verbose) {
    progress.on_tile = [](int done, int total) { std::fprintf(stderr, "tiles %d/%d\n", done, total); };
  }

  const std::vector<pipeline::JobResult> results = pipeline::run_pipeline(jobs, run_cfg, make_processor, progress);
  const double wall_ms = ms_since(wall0);
  if (tty && progress.on_tile) std::fprintf(stderr, "\r\033[K");

  const bool stopped = interrupted().load();
  int failed = 0;
  for (const pipeline::JobResult& r : results) {
    if (!r.status.ok()) {
      ++failed;
      // The jobs Ctrl-C stopped are summed up in one line below; other failures are still printed.
      if (!r.status.is_stopped()) say(r.status.message());
    } else {
      if (r.memory_retries > 0)
        std::fprintf(stderr, "resr: note: %s: ran out of memory; finished with smaller tiles (%d retr%s)\n",
                     r.job.input.c_str(), r.memory_retries, r.memory_retries == 1 ? "y" : "ies");
      if (r.alpha_dropped)
        std::fprintf(stderr,
                     "resr: note: %s: the alpha channel is left out (JPEG holds none; .png, .webp or .tif keep it)\n",
                     r.job.output.c_str());
      if (r.depth_reduced)
        std::fprintf(stderr,
                     "resr: note: %s: written with 8 bits a sample (the input has 16; .png or .tif keep them)\n",
                     r.job.output.c_str());
      if (r.exif_dropped)
        say("note: " + r.job.output +
            ": the EXIF is left out (over the 64 KB a JPEG holds; .png, .webp or .tif keep it)");
      if (r.icc_dropped)
        say("note: " + r.job.output +
            ": the ICC profile is left out (its colour space does not fit the output's pixels; a gray image's profile"
            " fits .png, .jpg or .tif, which keep it gray)");
      if (r.colour_dropped)
        say("note: " + r.job.output +
            ": the input's PNG colour space (a gAMA or cHRM chunk unlike sRGB) is left out (only a .png output keeps"
            " it), so viewers take the output as sRGB and may show it lighter, darker or in other hues");
      if (r.xmp_dropped)
        say("note: " + r.job.output +
            ": the XMP is left out (over the 64 KB a JPEG holds; .png, .webp or .tif keep it)");
      if (r.other_images > 0)
        say("note: " + r.job.input + ": the file holds " +
            (r.other_images >= kOtherImagesCounted ? "more than " + std::to_string(kOtherImagesCounted)
                                                   : std::to_string(r.other_images + 1)) +
            " images (pages); only the first is upscaled");
    }
  }
  if (o.profile) std::printf("%s", pipeline::profile_table(results, wall_ms).c_str());
  if (!o.report.empty()) {
    pipeline::ReportContext ctx;
    ctx.model_name = model.name;
    ctx.model_path = model.param_path;
    ctx.architecture = model.summary.architecture;
    ctx.backend = backend_name;
    ctx.model_file_bytes = model.file_bytes;
    ctx.model_scale = model.summary.scale;
    ctx.model_load_ms = load_ms;
    ctx.model_compile_ms = compile_ms;
    ctx.wall_ms = wall_ms;
    ctx.tile = o.tile;
    ctx.tile_pad = o.tile_pad >= 0 ? o.tile_pad : engine::default_tile_pad(model.summary);
    ctx.tta = o.tta;
    ctx.scale = o.scale > 0 ? o.scale : model.summary.scale;
    ctx.threads = pipeline::pipeline_threads(cfg, int(jobs.size()));
    ctx.niqe = o.niqe;
    Status st = pipeline::write_report(o.report, results, ctx);
    if (!st.ok()) return fail(o.report + ": " + st.message());
  }
  if (stopped) {  // one line, not one per image that was stopped or never begun
    std::fprintf(stderr, "resr: interrupted: %zu of %zu images written\n", results.size() - std::size_t(failed),
                 results.size());
    return interrupted_exit();
  }
  if (failed > 0 && folder) std::fprintf(stderr, "resr: %d of %zu images failed\n", failed, results.size());
  return failed > 0 ? 1 : 0;
}

int run_upscale(const UpscaleOptions& o) {
  auto cfg = make_config(o);
  if (!cfg) return fail(cfg.status().message());
  // Valid, and right for tests on tiny images, but likely a slip: realesrgan-ncnn-vulkan refuses tiles under 32.
  if (o.tile > 0 && o.tile < 32)
    std::fprintf(stderr,
                 "resr: note: -t %d is small: each tile also computes the context around it, so tiles under 32 "
                 "pixels run many times slower (-t 0 sizes tiles automatically)\n",
                 o.tile);
  note_bf16_unavailable(o.model.bf16, o.model.backend);
  std::error_code ec;
  const bool folder = fs::is_directory(o.input, ec);
  if (!folder && !fs::exists(o.input, ec)) return fail(o.input + ": cannot open: No such file or directory");
  if (!o.report.empty()) {  // before the work, not after it
    const Status writable = conversion::check_writable_file(o.report);
    if (!writable.ok()) return fail(writable.message());
  }
  if (o.tile > 0 && o.tile_memory_mib > 0)
    return fail("--tile-memory sizes automatic tiles and -t " + std::to_string(o.tile) + " fixes them: give one");
  auto jobs = make_jobs(o, o.format.empty() ? "png" : o.format);
  if (!jobs) return fail(jobs.status().message());
  if (!o.report.empty()) {  // the report is written last: over an input or an output it would replace it
    std::vector<std::pair<std::string, std::string>> kept;
    for (const pipeline::Job& j : jobs->images) {
      kept.emplace_back("the input", j.input);
      kept.emplace_back("the output", j.output);
    }
    for (const auto& [in, out] : jobs->videos) {
      kept.emplace_back("the input", in);
      kept.emplace_back("the output", out);
    }
    if (Status st = check_overwrites_none("--report", o.report, kept); !st.ok()) return fail(st.message());
  }
  if (!jobs->left_out.empty()) {
    const std::size_t n = jobs->left_out.size();
    std::string names;
    for (std::size_t i = 0; i < std::min<std::size_t>(n, 3); ++i)
      names += (i > 0 ? ", " : "") + fs::path(jobs->left_out[i]).filename().string();
    say("note: " + o.input + ": " + std::to_string(n) +
        (n == 1 ? " file is neither an image nor a video by its extension"
                : " files are neither images nor videos by their extension") +
        " (.png, .jpg, .webp, .tif, .mp4, ...) and left out: " + names + (n > 3 ? ", ..." : ""));
  }
  if (!jobs->videos.empty() && o.image_options_given)  // done, but likely a slip
    std::fprintf(stderr,
                 "resr: note: -f, -q, --lossless and -j apply to images; a video keeps its container and is encoded by "
                 "--vcodec, --crf and --preset\n");
  if (jobs->videos.empty() && o.video_options_given)
    std::fprintf(stderr,
                 "resr: note: --vcodec, --crf, --preset and --pix-fmt apply to videos; images are encoded "
                 "by -f and -q\n");
  if (!jobs->videos.empty()) {
    if (o.niqe) return fail("--niqe: NIQE is measured on images, not on video frames");
    if (!jobs->images.empty() && !o.report.empty())
      return fail("--report: " + o.input + " holds both images and videos; report them in two runs");
  }
  int code = 0;
  std::optional<engine::LoadedModel> model;  // read for the images; a folder's videos take it too
  if (!jobs->images.empty()) {
    const auto wall0 = std::chrono::steady_clock::now();
    if (!folder && cfg->format_from_output_extension) {
      auto format = format_from_extension(o.output);  // checked before the long computation
      if (!format) return fail(o.output + ": " + format.status().message());
      if (o.lossless && *format == ImageFormat::kJpeg)
        return fail(o.output + ": --lossless: JPEG has no lossless mode; write .webp, .png or .tif");
    }
    if (o.lossless && !cfg->format_from_output_extension && cfg->format == ImageFormat::kJpeg)
      return fail("--lossless: JPEG has no lossless mode; use -f webp, png or tif");
    if (!folder && !cfg->format_from_output_extension) {  // -f and a file name that says another format
      auto named = format_from_extension(o.output);
      if (named && *named != cfg->format)
        return fail(o.output + ": its extension names another format than -f " + o.format + "; name the output ." +
                    o.format + " or drop -f");
    }
    // Ctrl-C from here on, the model's loading included: the images in flight stop at their next tile, those not
    // begun are not begun.
    catch_interrupts();
    const engine::GpuWarmUp warm_up(o.model.backend);  // the GPU's start-up overlaps reading the model
    const auto load0 = std::chrono::steady_clock::now();
    auto read = engine::load_model(o.model.upscale_source());
    if (!read) return fail(read.status().message());
    model = std::move(*read);
    if (Status st = check_spares_model("--report", o.report, *model); !st.ok()) return fail(st.message());
    note_assumed_activation(*model);
    if (interrupted().load()) {  // during the load: nothing compiled, nothing begun
      std::fprintf(stderr, "resr: interrupted: 0 of %zu images written\n", jobs->images.size());
      return interrupted_exit();
    }
    if (folder) {
      if (Status made = make_output_folder(o.output); !made.ok()) return fail(made.message());
    }
    code = run_images(o, *cfg, jobs->images, folder, *model, ms_since(load0), wall0);
    if (interrupted().load()) {  // stopped among the images, or just after them: the videos are not begun
      if (code == interrupted_exit() || jobs->videos.empty()) return code;
      std::fprintf(stderr, "resr: interrupted: the folder's %zu videos were not begun\n", jobs->videos.size());
      return interrupted_exit();
    }
  }
  if (!jobs->videos.empty() && folder) {
    if (Status made = make_output_folder(o.output); !made.ok()) return fail(made.message());
  }
  if (!jobs->videos.empty())
    code = std::max(code,
                    run_video_upscale(VideoCommand{o.model, model ? &*model : nullptr, jobs->videos, settings_of(o, 1),
                                                   o.video, o.verbose, o.profile, o.report, o.crf_given}));
  return code;
}

}  // namespace

void add_upscale_command(CLI::App& app, Action* action) {
  auto o = std::make_shared<UpscaleOptions>();
  CLI::App* cmd = app.add_subcommand(
      "upscale", "upscale an image, a folder of images (PNG, JPEG, WebP, TIFF) or a video (.mp4, .mkv, ...)");
  cmd->add_option("-i,--input", o->input, "input image, folder or video")->required();
  cmd->add_option("-o,--output", o->output, "output image, folder when the input is a folder, or video")->required();
  o->model.add_to(*cmd);
  o->model.add_precision_flags(*cmd);
  cmd->add_option("-t,--tile", o->tile, "tile size in input pixels (0 = auto from memory)")
      ->check(CLI::Range(0, 65536));
  cmd->add_option(
         "--tile-memory", o->tile_memory_mib,
         "working-memory budget for automatic tiles, MiB (default: 60% of free GPU memory on cuda; on cpu a quarter "
         "of the available memory, 512 to 4096, shared by -j's proc threads)")
      ->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--tile-pad", o->tile_pad, "context pixels around each tile (default: per model)")
      ->check(CLI::Range(0, 1024));
  CLI::Option* scale =
      cmd->add_option(
             "-s,--scale", o->scale,
             "output scale, any value (default: the model's): the model, then a Lanczos resize; above the model's "
             "scale it runs again on its output (x4 twice for -s 8), an x1 model once")
          ->check(CLI::Range(0.01, 64.0))
          ->check(kNotNan);
  // An exact size sets the scale: given both, -s was ignored.
  cmd->add_option("--width", o->width, "output width (keeps the aspect ratio unless --height too)")
      ->check(CLI::Range(1, 65536))
      ->excludes(scale);
  cmd->add_option("--height", o->height, "output height")->check(CLI::Range(1, 65536))->excludes(scale);
  cmd->add_option("--alpha", o->alpha, "alpha upscaling: model (default) or bicubic")
      ->check(CLI::IsMember({"model", "bicubic"}));
  cmd->add_flag("-x,--tta", o->tta,
                "test-time augmentation: each tile through the model in 8 orientations (flips, rotations), averaged; "
                "8x the time");
  cmd->add_option("-f,--format", o->format,
                  "output format: png, jpg, webp, tif, or auto (a folder's images each keep their format; default: "
                  "from the output's extension, which -f must not contradict; png for folders)")
      ->check(CLI::IsMember({"png", "jpg", "jpeg", "webp", "tif", "tiff", "auto"}));
  CLI::Option* quality =
      cmd->add_option("-q,--quality", o->quality, "JPEG/WebP quality 1-100 (default 95)")->check(CLI::Range(1, 100));
  cmd->add_flag("--lossless", o->lossless,
                "WebP: lossless, exact pixels (as realesrgan-ncnn-vulkan writes; PNG and TIFF always are, JPEG cannot "
                "be; -f auto folders: their WebP outputs)")
      ->excludes(quality);
  cmd->add_option("-j,--jobs", o->threads, "load:proc:save threads (default 1:1:1)");
  cmd->add_option("--vcodec", o->video.codec,
                  "video: the FFmpeg encoder (default libx264, or VP9 for .webm; e.g. libx265, libsvtav1, ffv1)");
  cmd->add_option("--crf", o->video.crf,
                  "video: quality for CRF encoders, lower is better (default 18; x264 and x265 take up to 51)")
      ->check(CLI::Range(0, 63));
  cmd->add_option("--preset", o->video.preset,
                  "video: encoder preset (x264/x265: ultrafast ... placebo, default medium; libsvtav1: 0 to 13)");
  cmd->add_option("--pix-fmt", o->video.pixel_format,
                  "video: pixel format (default yuv420p where the encoder and sizes allow, else the closest to RGB)");
  cmd->add_flag("-v,--verbose", o->verbose, "progress and a line per file on stderr");
  cmd->add_flag("--profile", o->profile, "print decode/preprocess/inference/postprocess/encode ms per image");
  auto* report =
      cmd->add_option("--report", o->report, "write per-image timing as JSON (schema: docs/report-schema.md)");
  cmd->add_flag("--niqe", o->niqe, "add each output's NIQE (no-reference quality, lower is better) to the --report")
      ->needs(report);
  cmd->callback([o, action, cmd, quality] {
    o->image_options_given = cmd->count("-f") + quality->count() + cmd->count("--lossless") + cmd->count("-j") > 0;
    o->video_options_given =
        cmd->count("--vcodec") + cmd->count("--crf") + cmd->count("--preset") + cmd->count("--pix-fmt") > 0;
    o->crf_given = cmd->count("--crf") > 0;
    *action = [o] { return run_upscale(*o); };
  });
}

}  // namespace resr::cli
