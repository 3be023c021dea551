// resr calibrate: runs the FP32 model on tiles of sample images and writes the INT8 / FP8 calibration table that
// `resr convert --calib` reads (convert/calibrate_to_file.h); this file parses the options and prints the report.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "convert/calibrate_to_file.h"
#include "ir/fingerprint.h"
#include "model_options.h"
#include "number_checks.h"

namespace resr::cli {
namespace {

struct CalibrateCliOptions {
  ModelOptions model;
  std::string input, output;
  int num = 200;
  int tile = 128;
  std::uint64_t seed = 0;
  std::string method = "percentile";  // the best INT8 quality measured on x4fast (see quant/calibrate.h)
  double percentile = 99.99;
  bool percentile_given = false;  // --percentile with another --method would be ignored: refused
  bool verbose = false;
};

int run_calibrate(const CalibrateCliOptions& o) {
  conversion::CalibrationRequest r;
  r.images = o.input;
  r.output = o.output;
  quant::CalibrateOptions& c = r.options;
  if (Status st = conversion::parse_calibration_method(o.method, &c.method); !st) return fail(st.message());
  c.num_tiles = o.num;
  c.tile = o.tile;
  c.seed = o.seed;
  c.method_options.percentile = o.percentile;
  r.percentile_given = o.percentile_given;
  c.backend = o.model.backend;
  if (Status st = conversion::check_calibration_request(r); !st) return fail(st.message());
  auto model = engine::load_model(o.model.upscale_source());
  if (!model) return fail(model.status().message());
  c.on_warning = [](const std::string& w) { std::fprintf(stderr, "resr: warning: %s (skipped)\n", w.c_str()); };
  const bool progress = ::isatty(STDERR_FILENO) != 0;
  if (progress) c.on_tile = [](int done, int total) { std::fprintf(stderr, "\rcalibrating: tile %d/%d", done, total); };
  quant::CalibrateReport report;
  auto table = conversion::calibrate_to_file(*model, r, &report);
  if (progress && report.tiles > 0) std::fputc('\n', stderr);
  if (!table) return fail(table.status().message());

  std::printf("model:      %s (fingerprint %s)\n", model->param_path.c_str(),
              ir::fingerprint_hex(table->model_fingerprint).c_str());
  note_model_as_upscale_runs_it(*model);  // once written: a refused output is then the only line
  if (report.flat_tiles * 2 > report.tiles)
    std::fprintf(stderr,
                 "resr: warning: %d of %d calibration tiles are nearly flat (under 8 levels of contrast): INT8 ranges "
                 "from them miss what photos hold; calibrate on images like those to be upscaled\n",
                 report.flat_tiles, report.tiles);
  if (std::uint64_t(report.tiles) > report.distinct_tiles)
    std::fprintf(stderr,
                 "resr: note: the images hold only %llu distinct tile%s of up to %dx%d, so %d tiles repeated some "
                 "(a repeated tile adds time, not information: a smaller --num, or more images)\n",
                 static_cast<unsigned long long>(report.distinct_tiles), report.distinct_tiles == 1 ? "" : "s", o.tile,
                 o.tile, report.tiles);
  std::printf("images:     %d used", report.images_used);
  if (report.images_skipped > 0) std::printf(", %d skipped", report.images_skipped);
  std::printf("\nsamples:    %d tiles of up to %dx%d (seed %llu)\n", report.tiles, o.tile, o.tile,
              static_cast<unsigned long long>(o.seed));
  std::printf("method:     %s\n", table->method.c_str());
  std::printf("tensors:    %zu\n", table->tensors.size());
  std::printf("time:       %.1f s (statistics %.1f s, thresholds %.2f s)\n", report.seconds, report.observe_seconds,
              report.threshold_seconds);
  if (o.verbose) {
    std::printf("%-40s %12s %12s %12s\n", "tensor", "threshold", "min", "max");
    for (const quant::TensorRange& r : table->tensors)
      std::printf("%-40s %12.6g %12.6g %12.6g\n", r.name.c_str(), r.threshold, r.min, r.max);
  }
  std::printf("table:      %s\n", o.output.c_str());
  return 0;
}

}  // namespace

void add_calibrate_command(CLI::App& app, Action* action) {
  auto o = std::make_shared<CalibrateCliOptions>();
  CLI::App* cmd =
      app.add_subcommand("calibrate", "measure activation ranges on sample images for INT8 / FP8 (convert --calib)");
  o->model.add_to(*cmd);
  cmd->add_option("-i,--input", o->input, "folder of calibration images (.png, .jpg, .webp, .tif), or one image")
      ->required();
  cmd->add_option("-o,--output", o->output, "calibration table to write")->required();
  cmd->add_option("--num", o->num, "number of tiles, 1..100000 (default 200; 100-1000 is usual)");
  cmd->add_option("--tile", o->tile, "tile size in input pixels, at least 8 (default 128; smaller where an image is)");
  cmd->add_option("--seed", o->seed, "seed of the tile choice (default 0)")->check(cli::kPlainUnsigned);
  cmd->add_option("--method", o->method, "threshold method: minmax, percentile (default), kl or mse");
  cmd->add_option("--percentile", o->percentile,
                  "percentile of |x| for --method percentile, in (0, 100] (default 99.99)");
  cmd->add_flag("-v,--verbose", o->verbose, "print every tensor's threshold and range");
  cmd->callback([o, action, cmd] {
    o->percentile_given = cmd->count("--percentile") > 0;
    *action = [o] { return run_calibrate(*o); };
  });
}

}  // namespace resr::cli
