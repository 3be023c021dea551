// resr upscale: one image in, one image out, the whole image in one pass.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "engine/backend_factory.h"
#include "engine/memory_estimate.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "model_options.h"

namespace resr::cli {
namespace {

struct UpscaleOptions {
  ModelOptions model;
  std::string input, output;
  int quality = 95;
  bool verbose = false;
};

int run_upscale(const UpscaleOptions& o) {
  // Everything that can be checked cheaply is checked before the long computation.
  auto format = format_from_extension(o.output);
  if (!format) return fail(o.output + ": " + format.status().message());
  auto model = engine::load_model(o.model.source);
  if (!model) return fail(model.status().message());
  auto image = read_image_file(o.input);
  if (!image) return fail(o.input + ": " + image.status().message());
  Status fits = engine::check_memory(*model->graph, image->height, image->width);
  if (!fits.ok()) return fail(o.input + ": " + fits.message());
  auto exe = engine::make_executable(model->graph, o.model.backend);
  if (!exe) return fail(exe.status().message());
  const auto t0 = std::chrono::steady_clock::now();
  auto result = engine::upscale_image(*image, **exe);
  if (!result) return fail(o.input + ": " + result.status().message());
  const auto t1 = std::chrono::steady_clock::now();
  EncodeOptions enc;
  enc.quality = o.quality;
  Status written = write_image_file(*result, o.output, *format, enc);
  if (!written.ok()) return fail(o.output + ": " + written.message());
  if (o.verbose)
    std::fprintf(stderr, "%s: %dx%d -> %dx%d with %s on %s in %.0f ms\n", o.input.c_str(), image->width, image->height,
                 result->width, result->height, model->name.c_str(), (*exe)->backend_name().c_str(),
                 std::chrono::duration<double, std::milli>(t1 - t0).count());
  return 0;
}

}  // namespace

void add_upscale_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<UpscaleOptions>();
  CLI::App* cmd = app.add_subcommand("upscale", "upscale an image (PNG, JPEG, WebP); output format from the extension");
  cmd->add_option("-i,--input", opts->input, "input image")->required();
  cmd->add_option("-o,--output", opts->output, "output image (.png, .jpg, .webp)")->required();
  opts->model.add_to(*cmd);
  cmd->add_option("-q,--quality", opts->quality, "JPEG/WebP quality")->check(CLI::Range(1, 100));
  cmd->add_flag("-v,--verbose", opts->verbose, "print what was done");
  cmd->callback([opts, action] { *action = [opts] { return run_upscale(*opts); }; });
}

}  // namespace resr::cli
