// resr convert: writes a loaded model (any input format) as ncnn (.param/.bin) or as a compiled .resr at a chosen
// precision, through convert/model_convert.h (which checks every option before the model is loaded and reads the
// output back before writing it); this file parses the options and prints the report.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "backends/cpu/conv3x3_int8.h"
#include "commands.h"
#include "convert/model_convert.h"
#include "model_options.h"
#include "number_checks.h"

namespace resr::cli {
namespace {

struct ConvertOptions {
  ModelOptions model;
  conversion::ConvertRequest request;
  std::string storage = "fp32";  // request.storage only when given
};

void print_search(const conversion::ConvertRequest& r, const conversion::ConvertReport& rep) {
  const quant::SearchResult& s = *rep.search;
  std::printf("search: %d evaluations on %d tiles of %dx%d; curve (%s share of multiply-adds, PSNR vs FP32):\n",
              s.evaluations, rep.search_samples, r.search_tile, r.search_tile, rep.quantized_kind.c_str());
  for (const quant::CurvePoint& p : s.curve)
    std::printf("search:   %5.1f%%  %6.2f dB  (%d convs kept)\n", 100 * p.quantized_share, p.psnr_db, p.kept);
  if (r.target_psnr > 0)
    std::printf("search: %s: %d convs kept out of %s, %s share %.1f%%, PSNR %.2f dB (target %.2f dB)\n",
                s.reached ? "target met" : "target NOT met", s.kept, rep.quantized_kind.c_str(),
                rep.quantized_kind.c_str(), 100 * s.quantized_share, s.psnr_db, r.target_psnr);
  if (r.target_psnr > 0 && s.quantized_share == 0)
    std::fprintf(stderr,
                 "resr: warning: no conv could stay in %s within the target: the model is FP32 in all but name; the "
                 "calibration table may not fit these images (calibrate on images like them, or lower the target)\n",
                 rep.quantized_kind.c_str());
}

// Below this PSNR against FP32 on the sample tiles, a quantized model's errors are likely visible: said so.
constexpr double kLowQualityDb = 30.0;

// What the reduced precision costs: measured with --images (and stored in the file), else how to measure it.
void print_quality(const conversion::ConvertRequest& r, const conversion::ConvertReport& rep) {
  if (rep.quality_tiles == 0) {
    std::fprintf(stderr,
                 "resr: note: quality not measured: --images DIR measures the model against FP32 on tiles of DIR "
                 "(resr eval --models compares whole images)\n");
    return;
  }
  std::printf("quality: PSNR %.2f dB against FP32 on %d tiles of %dx%d from %s (CPU backend; resr info shows it)\n",
              rep.quality_psnr_db, rep.quality_tiles, r.search_tile, r.search_tile, r.images.c_str());
  if (rep.quality_psnr_db < kLowQualityDb)
    std::fprintf(stderr,
                 "resr: warning: %s is %.1f dB from FP32 on these images (under %.0f dB: errors are likely visible); "
                 "the calibration table may not fit them: calibrate on images like them, or use --target-psnr\n",
                 r.output.c_str(), rep.quality_psnr_db, kLowQualityDb);
}

int run_convert(const ConvertOptions& o) {
  const conversion::ConvertRequest& r = o.request;
  if (Status st = conversion::check_convert_request(r); !st) return fail(st.message());
  auto model = engine::load_model(o.model.upscale_source());
  if (!model) return fail(model.status().message());
  auto report = conversion::convert_model(*model, r);
  if (!report) return fail(report.status().message());
  // Once written (a refused output is then the only line): a .resr keeps the blend and the activation it has.
  note_model_as_upscale_runs_it(*model);
  const conversion::ConvertReport& rep = *report;
  if (rep.target == "ncnn") {
    std::printf("wrote %s (%zu layers, %s weights, %zu bytes) from %s [%s]\n", rep.files.c_str(), rep.layers,
                r.storage.empty() ? "fp32" : r.storage.c_str(), rep.bytes, model->param_path.c_str(),
                rep.architecture.c_str());
    return 0;
  }
  if (rep.search) print_search(r, rep);
  std::string convs;
  for (ir::Precision p : {ir::Precision::kFp8, ir::Precision::kInt8, ir::Precision::kFp16, ir::Precision::kFp32})
    if (rep.precision.at(p).convs > 0)
      convs += (convs.empty() ? "" : ", ") + std::to_string(rep.precision.at(p).convs) + " " + ir::precision_name(p);
  std::string scaled;
  if (rep.channel_scaled_convs > 0) {
    scaled = ", per-channel input scales on " + std::to_string(rep.channel_scaled_convs) + " INT8 convs";
    char chosen[48];
    std::snprintf(chosen, sizeof chosen, " (migration %.2f, measured)", double(rep.scale_migration));
    if (rep.scale_migration > 0) scaled += chosen;
    std::string estimated;  // "0.25 x3, 1.00 x12"
    for (const auto& [a, n] : rep.estimated_migrations) {
      std::snprintf(chosen, sizeof chosen, "%s%.2f x%d", estimated.empty() ? "" : ", ", double(a), n);
      estimated += chosen;
    }
    if (!estimated.empty()) scaled += " (migration estimated per group, convs: " + estimated + ")";
  }
  std::string share;  // the quantized share, for a model that has quantized convs
  if (rep.quantized_share > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ", %s %.1f%% of multiply-adds", rep.quantized_kind.c_str(),
                  rep.quantized_share * 100.0);
    share = buf;
  }
  std::printf("wrote %s: precision %s%s (convs: %s)%s, %zu bytes, from %s [%s]\n", rep.files.c_str(),
              r.precision.empty() ? "fp32" : r.precision.c_str(), share.c_str(), convs.c_str(), scaled.c_str(),
              rep.bytes, model->param_path.c_str(), rep.architecture.c_str());
  if (conversion::is_calibrated_precision(r.precision)) print_quality(r, rep);
  if (rep.precision.at(ir::Precision::kInt8).convs > 0 && rep.channel_scaled_convs == 0 &&
      conversion::wants_channel_scales(r))
    std::fprintf(stderr,
                 "resr: note: %s has no per-channel maxima (a v1 table): one input scale per conv; a table from this "
                 "resr calibrate gives per-channel input scales, measured better (docs/quantization.md)\n",
                 r.calib.c_str());
  if (rep.precision.at(ir::Precision::kInt8).convs > 0 && !cpu::cpu_has_fast_int8())
    std::fprintf(stderr,
                 "resr: note: this CPU has neither AVX-512 VNNI nor AVX-VNNI: INT8 convolutions run here on int16 "
                 "multiply-adds (AVX2) or the portable kernel, slower than fp32; INT8 pays off on a CPU with VNNI or "
                 "on a GPU\n");
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "write a model in another format (ncnn .param/.bin, compiled .resr)");
  opts->model.add_to(*cmd, /*runs_the_model=*/false);
  cmd->add_option("--to", opts->request.to,
                  "output format: ncnn or resr (default: resr when -o ends in .resr, else ncnn)")
      ->check(CLI::IsMember({"ncnn", "resr"}));
  cmd->add_option("-o,--output", opts->request.output,
                  "output file (ncnn: OUT.param, OUT.bin written beside it; OUT.resr)")
      ->required();
  CLI::Option* storage =
      cmd->add_option("--storage", opts->storage, "ncnn convolution weight storage: fp32 (default, exact) or fp16")
          ->check(CLI::IsMember({"fp32", "fp16"}));
  cmd->add_option("--precision", opts->request.precision,
                  "resr: convolution precision fp32 (default), fp16, int8, fp8 (E4M3; Hopper's FP8 tensor cores) or "
                  "int8+fp8 (each conv the one that measured better on --images)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8", "fp8", "int8+fp8"}));
  cmd->add_option("--calib", opts->request.calib, "resr int8/fp8: calibration table (from resr calibrate)");
  cmd->add_option("--qtable", opts->request.qtable,
                  "resr int8/fp8: per-conv precisions, one '<name> <fp32|fp16|int8|fp8>' a line");
  cmd->add_flag("--asymmetric", opts->request.asymmetric, "resr int8: asymmetric (uint8, zero point) activations");
  cmd->add_option("--input-scales", opts->request.input_scales,
                  "resr int8: 'channel' (default when symmetric: a scale per input channel, from the table's "
                  "channel maxima) or 'tensor' (one scale per conv input)")
      ->check(CLI::IsMember({"channel", "tensor"}));
  CLI::Option* migration =
      cmd->add_option("--scale-migration", opts->request.scale_migration,
                      "resr int8, per-channel input scales: how much of each channel's range moves into the weights, "
                      "(0, 1] (default 0.5; 1: every channel fills the INT8 range, measured best for x4plus); auto: "
                      "whichever of 0.5, 0.75 and 1 measures best on --images; estimate: per group of convs sharing an "
                      "input quantization, whichever of 0.25, 0.5, 0.75 and 1 has the least estimated error")
          ->type_name("auto|estimate|A");
  cmd->add_option(
         "--target-psnr", opts->request.target_psnr,
         "resr int8/fp8: keep the least tolerant convs at FP32 until the output is within DB of FP32 on --images")
      ->check(CLI::Range(1.0, 200.0))
      ->check(kNotNan);
  cmd->add_option("--images", opts->request.images,
                  "resr int8/fp8: folder of images to measure on: the model's PSNR against FP32 (printed, and kept "
                  "in the file), --target-psnr's search, int8+fp8's choice, --scale-migration auto");
  CLI::Option* tiles = cmd->add_option("--search-tiles", opts->request.search_tiles,
                                       "resr with --images: sample tiles measured (default 8)")
                           ->check(CLI::Range(1, 1000));
  CLI::Option* tile =
      cmd->add_option("--search-tile", opts->request.search_tile, "resr with --images: sample tile size (default 48)")
          ->check(CLI::Range(8, 1024));
  cmd->callback([opts, action, storage, migration, tiles, tile] {
    if (storage->count() > 0) opts->request.storage = opts->storage;
    // Given but with no effect: said, where they were taken and ignored.
    if (migration->count() > 0 && opts->request.scale_migration.empty())
      throw CLI::ValidationError("--scale-migration", "must be auto, estimate or in (0, 1], got ''");
    if ((tiles->count() > 0 || tile->count() > 0) && opts->request.images.empty())
      throw CLI::ValidationError("--search-tiles/--search-tile", "apply with --images DIR (the tiles come from it)");
    opts->request.on_progress = [](const std::string& line) {
      std::printf("search: %s\n", line.c_str());
      std::fflush(stdout);  // a long search: show progress when stdout is a file too
    };
    *action = [opts] { return run_convert(*opts); };
  });
}

}  // namespace resr::cli
