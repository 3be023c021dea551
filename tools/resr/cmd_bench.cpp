// resr bench: inference time of one model on a random input of a given size (no image I/O), or, with --contest,
// the 2023 super-resolution contest's run: every image of a folder upscaled x4 like `resr upscale` does it, timed
// from decode to encode, scored by NIQE.
#include <fnmatch.h>
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/fma_peak.h"
#include "commands.h"
#include "convert/file_checks.h"
#include "core/json_text.h"
#include "core/staged_file.h"
#include "engine/backend_factory.h"
#include "engine/compiled_model.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/image_files.h"
#include "image/metadata.h"
#include "metrics/niqe.h"
#include "model_options.h"
#include "number_checks.h"
#include "precision_notices.h"

namespace resr::cli {
namespace {

struct BenchOptions {
  ModelOptions model;
  std::string size = "64x64";
  int iters = 3;
  int warmup = 1;
  bool json = false;
  std::string json_file;  // --json FILE: write the JSON there instead of stdout
  bool layers = false;
  bool peak = false;
  std::string contest_dir, out_dir;
  std::vector<std::string> exclude = {"contest_reference_output_*"};
};

// Prints `text` on stdout, or writes it to `path` when one is given.
int emit_json(const std::string& text, const std::string& path) {
  if (path.empty()) {
    std::printf("%s\n", text.c_str());
    return 0;
  }
  // Staged and renamed, or into the descriptor /dev/stdout names: a write that fails (a full disk) is said and
  // leaves no empty file (an ofstream's failure at its closing flush went unsaid, exit 0).
  if (Status st = write_file_atomically(path, text + "\n"); !st.ok()) return fail(st.with_context(path).message());
  return 0;
}

// Per-step times grouped by kernel and shape, in first-seen order, as milliseconds per run.
void print_layers(FILE* to, const std::vector<StepTime>& steps, double total_ms) {
  struct Group {
    std::string kernel, shape;
    int count = 0;
    double ms = 0, macs = 0;
  };
  std::vector<Group> groups;
  for (const StepTime& t : steps) {
    if (t.runs == 0) continue;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.kernel == t.kernel && g.shape == t.shape; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{t.kernel, t.shape});
    ++it->count;
    it->ms += t.ms / t.runs;
    it->macs += t.macs;
  }
  std::fprintf(to, "%-30s %-20s %6s %10s %7s %12s\n", "kernel", "shape", "steps", "ms/run", "share", "eff. GFLOP/s");
  for (const Group& g : groups) {
    std::fprintf(to, "%-30s %-20s %6d %10.2f %6.1f%%", g.kernel.c_str(), g.shape.c_str(), g.count, g.ms,
                 100.0 * g.ms / total_ms);
    if (g.macs > 0) std::fprintf(to, " %12.1f", 2.0 * g.macs / (g.ms * 1e6));
    std::fprintf(to, "\n");
  }
}

// Both modes, once the model is loaded: --json must not overwrite its files; what the timing runs as is said (no
// BF16 on this CPU, FP8 emulated: slower than FP32).
Status check_model_and_note(const BenchOptions& o, const engine::LoadedModel& model) {
  RESR_RETURN_IF_ERROR(check_spares_model("--json", o.json_file, model));
  note_bf16_unavailable(o.model.bf16, o.model.backend);
  note_fp8_emulated(model, o.model.backend);
  return ok_status();
}

int run_bench(const BenchOptions& o) {
  const std::optional<std::vector<int>> size = cli::parse_int_fields(o.size, 'x', 2);
  if (!size) return fail("--size: expected WxH, e.g. 128x128, got '" + o.size + "'");
  if ((*size)[0] < 1 || (*size)[1] < 1) return fail("--size: each side must be at least 1, got '" + o.size + "'");
  int w = (*size)[0], h = (*size)[1];
  if (w > 8192 || h > 8192) return fail("--size: " + o.size + " is too large (at most 8192 on each side)");
  if (!o.json_file.empty())
    if (Status st = conversion::check_writable_file(o.json_file); !st.ok()) return fail(st.message());
  auto model = engine::load_model(o.model.source);
  if (!model) return fail(model.status().message());
  if (Status st = check_model_and_note(o, *model); !st.ok()) return fail(st.message());
  // Pixel-unshuffle models (RRDBNet x2, x1) take sizes in multiples of their factor; upscale pads to one, so the
  // bench times the padded size, and says so.
  if (const int m = std::max(1, model->summary.input_multiple); w % m != 0 || h % m != 0) {
    w = (w + m - 1) / m * m;
    h = (h + m - 1) / m * m;
    std::fprintf(stderr, "resr: note: this model takes sizes in multiples of %d (upscale pads to one): timing %dx%d\n",
                 m, w, h);
  }
  auto exe = engine::make_executable(model->graph, o.model.backend, o.model.backend_options());
  if (!exe) return fail(exe.status().message());
  Tensor input(3, h, w);
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  for (std::int64_t i = 0; i < input.numel(); ++i) input.data()[i] = dist(rng);
  std::vector<double> ms, device_ms;
  double first_ms = 0;  // the first run also plans memory, searches algorithms and compiles fused graphs
  for (int i = 0; i < o.warmup + o.iters; ++i) {
    if (o.layers && i == o.warmup) (*exe)->set_step_timing(true);
    const auto t0 = std::chrono::steady_clock::now();
    auto out = (*exe)->run(input);
    const auto t1 = std::chrono::steady_clock::now();
    if (!out) return fail(out.status().message());
    if (i == 0) first_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    if (i >= o.warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (i >= o.warmup && (*exe)->last_device_ms() >= 0) device_ms.push_back((*exe)->last_device_ms());
  }
  std::sort(ms.begin(), ms.end());
  std::sort(device_ms.begin(), device_ms.end());
  const double best = ms.front(), median = ms[ms.size() / 2];
  const double gflops = 2.0 * model->summary.macs_per_pixel * w * h / (best * 1e6);
  std::string short_name = model->name;
  if (short_name.rfind("realesrgan-", 0) == 0) short_name = short_name.substr(11);
  if (o.layers) {
    double steps_ms = 0;
    for (const StepTime& t : (*exe)->step_times()) steps_ms += t.runs > 0 ? t.ms / t.runs : 0;
    print_layers(o.json && o.json_file.empty() ? stderr : stdout, (*exe)->step_times(), steps_ms);  // JSON alone there
  }
  // The machine's FP32 FMA peak, measured now (10+ independent FMA chains per thread, all threads).
  double peak = 0;
  if (o.peak) {
    peak = cpu::cpu_has_avx512f() ? cpu::measure_fma_peak_gflops_avx512(0.5) : 0;
    if (cpu::cpu_has_avx2_fma()) peak = std::max(peak, cpu::measure_fma_peak_gflops_avx2(0.5));
  }
  if (o.json) {
    // The backend that ran (--backend auto names none) and its details: "cpu (conv3x3_winograd43_f32_avx512, ...)".
    const std::string ran = (*exe)->backend_name();
    nlohmann::json j = {{"tool", "resr"},           {"model", short_name}, {"backend", ran.substr(0, ran.find(' '))},
                        {"backend_detail", ran},    {"size", {w, h}},      {"threads", omp_get_max_threads()},
                        {"iters", o.iters},         {"best_ms", best},     {"median_ms", median},
                        {"first_run_ms", first_ms}, {"gflops", gflops}};
    if (!device_ms.empty()) {
      j["device_best_ms"] = device_ms.front();
      j["device_median_ms"] = device_ms[device_ms.size() / 2];
    }
    if (o.peak) {
      j["peak_gflops"] = peak;
      j["peak_fraction"] = gflops / peak;
    }
    if (int rc = emit_json(json_text(j, -1), o.json_file); rc != 0) return rc;
  } else {
    std::printf(
        "%s %dx%d on %s, %d threads: best %.1f ms, median %.1f ms over %d run%s (%.1f GFLOP/s); first run %.1f ms\n",
        short_name.c_str(), w, h, (*exe)->backend_name().c_str(), omp_get_max_threads(), best, median, o.iters,
        o.iters == 1 ? "" : "s", gflops, first_ms);
    if (!device_ms.empty())
      std::printf("device time of the model steps (no host copies): best %.2f ms, median %.2f ms\n", device_ms.front(),
                  device_ms[device_ms.size() / 2]);
    if (o.peak)
      std::printf("measured FMA peak %.1f GFLOP/s: effective throughput %.2fx the peak\n", peak, gflops / peak);
  }
  return 0;
}

namespace fs = std::filesystem;

// The folder's images (by extension), minus names matching an --exclude glob, sorted by name.
Result<std::vector<fs::path>> contest_images(const BenchOptions& o) {
  RESR_ASSIGN_OR_RETURN(std::vector<std::string> files, list_image_files(o.contest_dir));
  std::vector<fs::path> images;
  for (const fs::path path : files) {
    const std::string name = path.filename().string();
    if (std::any_of(o.exclude.begin(), o.exclude.end(),
                    [&](const std::string& glob) { return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0; }))
      continue;
    images.push_back(path);
  }
  if (images.empty()) return Status::error(o.contest_dir + ": no .png, .jpg, .webp or .tif images (after --exclude)");
  return images;
}

struct ContestImage {
  std::string name;
  double runtime_s = 0;
  std::optional<double> niqe;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The contest's run: x4 (the model's scale) with `resr upscale`'s default settings, one image after the other,
// each timed from reading the file to writing the PNG; NIQE of the output afterwards (not timed).
int run_contest(const BenchOptions& o) {
  auto images = contest_images(o);
  if (!images) return fail(images.status().message());
  std::error_code ec;
  const bool temporary = o.out_dir.empty();
  // The outputs are NAME.png: in the images' own folder they would replace them (and be read as inputs), and two
  // inputs of one name (a.jpg, a.png) would write one file.
  if (!temporary && same_file(o.out_dir, o.contest_dir))
    return fail("--out " + o.out_dir + ": the contest's own folder; its images would be overwritten");
  std::vector<std::pair<std::string, std::string>> kept;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const fs::path& in = (*images)[i];
    for (std::size_t j = 0; j < i; ++j)
      if ((*images)[j].stem() == in.stem())
        return fail(in.string() + " and " + (*images)[j].string() + " would both be written as " + in.stem().string() +
                    ".png; keep one (or --exclude the other)");
    kept.emplace_back("the image", in.string());
    if (!temporary) kept.emplace_back("the output", (fs::path(o.out_dir) / (in.stem().string() + ".png")).string());
  }
  if (Status st = check_overwrites_none("--json", o.json_file, kept); !st.ok()) return fail(st.message());
  if (!o.json_file.empty())  // before the run, not after every image was upscaled
    if (Status st = conversion::check_writable_file(o.json_file); !st.ok()) return fail(st.message());
  const fs::path out_dir =
      temporary ? fs::temp_directory_path() / ("resr-contest-" + std::to_string(::getpid())) : fs::path(o.out_dir);
  fs::create_directories(out_dir, ec);
  if (ec) return fail(out_dir.string() + ": cannot create folder: " + ec.message());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      if (!dir.empty()) fs::remove_all(dir, ignored);
    }
  } cleanup{temporary ? out_dir : fs::path()};

  auto model = engine::load_model(o.model.upscale_source());
  if (!model) return fail(model.status().message());
  if (Status st = check_model_and_note(o, *model); !st.ok()) return fail(st.message());
  auto compiled = engine::CompiledModel::compile(*model, o.model.backend, o.model.backend_options());
  if (!compiled) return fail(compiled.status().message());
  // With JSON on stdout, progress goes to stderr.
  FILE* log = o.json && o.json_file.empty() ? stderr : stdout;
  std::fprintf(log, "contest: %zu images, %s (x%d, %llu bytes) on %s, %d threads\n", images->size(),
               model->name.c_str(), model->summary.scale, static_cast<unsigned long long>(model->file_bytes),
               compiled->backend_name().c_str(), omp_get_max_threads());

  const engine::UpscaleSettings settings;  // `resr upscale` defaults: auto tile, the model's scale
  if (o.warmup > 0) {  // untimed runs on the first image that decodes (only with an explicit --warmup)
    std::optional<Image> first;
    for (const fs::path& in : *images) {
      auto img = read_image_file(in.string());
      if (img) {
        first = std::move(*img);
        break;
      }
    }
    for (int i = 0; first && i < o.warmup; ++i) {  // a failure here is the timed run's to report
      if (!engine::upscale_image(*first, *compiled, settings)) break;
    }
  }
  std::vector<ContestImage> rows;
  double time_all = 0, niqe_sum = 0;
  int niqe_count = 0;
  std::size_t failed = 0;
  // A file that cannot be read, upscaled or written is named and left out; the rest still run (exit 1 after).
  auto image_failed = [&failed](const std::string& message) {
    say(message);
    ++failed;
  };
  for (const fs::path& in : *images) {
    ContestImage row;
    row.name = in.filename().string();
    const fs::path out_path = out_dir / (in.stem().string() + ".png");
    const auto t0 = std::chrono::steady_clock::now();
    auto img = read_image_file(in.string());
    if (!img) {
      image_failed(in.string() + ": " + img.status().message());
      continue;
    }
    apply_exif_orientation(*img);
    auto out = engine::upscale_image(*img, *compiled, settings);
    if (!out) {
      image_failed(in.string() + ": " + out.status().message());
      continue;
    }
    Status written = write_image_file(*out, out_path.string(), ImageFormat::kPng, {});
    if (!written.ok()) {
      image_failed(out_path.string() + ": " + written.message());
      continue;
    }
    row.runtime_s = seconds_since(t0);
    time_all += row.runtime_s;
    auto q = metrics::niqe(*out);
    if (q) {
      row.niqe = *q;
      niqe_sum += *q;
      ++niqe_count;
      std::fprintf(log, "%s %dx%d -> %dx%d: %.3f s, NIQE %.4f\n", row.name.c_str(), img->width, img->height, out->width,
                   out->height, row.runtime_s, *q);
    } else {
      std::fprintf(log, "%s %dx%d -> %dx%d: %.3f s, NIQE n/a (%s)\n", row.name.c_str(), img->width, img->height,
                   out->width, out->height, row.runtime_s, q.status().message().c_str());
    }
    std::fflush(log);
    rows.push_back(std::move(row));
  }

  if (rows.empty()) return fail(o.contest_dir + ": no image could be upscaled (" + std::to_string(failed) + " failed)");
  const double runtime_avg = time_all / double(rows.size());
  const double niqe_avg = niqe_count > 0 ? niqe_sum / niqe_count : NAN;
  const bool scored = niqe_count > 0 && niqe_avg < 7;
  const double score = scored ? std::sqrt(7 - niqe_avg) / runtime_avg * 200 : NAN;
  std::fprintf(log, "time_all %.3f s, runtime_avg %.3f s, niqe_avg %.4f\n", time_all, runtime_avg, niqe_avg);
  if (scored)
    std::fprintf(log, "score sqrt(7 - niqe_avg) / runtime_avg x 200 = %.4f\n", score);
  else
    std::fprintf(log, "score n/a (mean NIQE %s)\n", niqe_count > 0 ? "is 7 or more" : "undefined");
  if (!temporary) std::fprintf(log, "outputs in %s\n", out_dir.string().c_str());
  if (failed > 0)
    std::fprintf(stderr, "resr: %zu of %zu images failed: the figures above are over the other %zu\n", failed,
                 images->size(), rows.size());

  if (o.json) {
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); };
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const ContestImage& r : rows)
      list.push_back({{"img_name", r.name}, {"runtime", r.runtime_s}, {"niqe", number(r.niqe.value_or(NAN))}});
    nlohmann::ordered_json entry = {
        {"model_size", model->file_bytes}, {"time_all", time_all}, {"runtime_avg", runtime_avg},
        {"niqe_avg", number(niqe_avg)},    {"images", list},       {"images_failed", failed},
        {"score", number(score)},          {"model", model->name}};
    const int json_exit =
        emit_json(json_text(nlohmann::ordered_json{{"A", nlohmann::ordered_json::array({entry})}}), o.json_file);
    if (json_exit != 0) return json_exit;
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "time inference of a model on a random input, or --contest: the 2023 contest's timed x4 run with NIQE");
  opts->model.add_to(*cmd);
  opts->model.add_precision_flags(*cmd);
  CLI::Option* size = cmd->add_option("--size", opts->size, "input size WxH (default 64x64)");
  CLI::Option* iters = cmd->add_option("--iters", opts->iters, "timed runs (default 3)")->check(CLI::Range(1, 10000));
  CLI::Option* warmup = cmd->add_option("--warmup", opts->warmup, "untimed runs first (default 1; --contest: 0)")
                            ->check(CLI::Range(0, 100));
  CLI::Option* json = cmd->add_option("--json", opts->json_file,
                                      "print one JSON object, or write it to FILE (--json FILE); with --contest in "
                                      "the contest's schema {\"A\": [{model_size, time_all, ...}]}")
                          ->expected(0, 1)
                          ->type_name("[FILE]");
  CLI::Option* layers = cmd->add_flag("--layers", opts->layers, "time every step; print ms per kernel and shape");
  CLI::Option* peak =
      cmd->add_flag("--peak", opts->peak, "also measure the FP32 FMA peak and report the fraction reached");
  CLI::Option* contest =
      cmd->add_option("--contest", opts->contest_dir,
                      "folder of images: upscale each like `resr upscale` (default settings), time it from decode to "
                      "encode, score NIQE; prints sqrt(7 - mean NIQE) / mean seconds x 200");
  // Only the contest reads them: refused without it rather than ignored.
  cmd->add_option("--out", opts->out_dir, "with --contest: keep the outputs in this folder (default: a temporary one)")
      ->needs(contest);
  cmd->add_option("--exclude", opts->exclude,
                  "with --contest: skip images whose file name matches these globs (default "
                  "'contest_reference_output_*'; --exclude '' keeps every image)")
      ->needs(contest);
  // And the random input's alone: refused with --contest, which times each image once (they were ignored).
  for (CLI::Option* option : {size, iters, layers, peak}) option->excludes(contest);
  cmd->callback([opts, action, json, warmup] {
    opts->json = json->count() > 0;
    if (!opts->contest_dir.empty() && warmup->count() == 0) opts->warmup = 0;  // the contest timed every image
    *action = [opts] { return opts->contest_dir.empty() ? run_bench(*opts) : run_contest(*opts); };
  });
}

}  // namespace resr::cli
