// Calibration: runs the FP32 model on tiles cut from sample images, observes the input of every Conv2d, and
// turns the statistics into a calibration table (the work of `resr calibrate`).
//
//   CalibrateOptions o;  o.num_tiles = 200;  o.tile = 128;  o.method = Method::kPercentile;
//   CalibrateReport report;
//   Result<CalibTable> t = calibrate(model, image_paths, o, &report);
//   Status st = write_calib_table(*t, "x4fast.calib");
//
// Tiles: choose_tiles (tile_sampler.h) over the images that decode; each becomes a 3 x h x w float tensor in
// [0,1] as upscaling makes it (engine/tile_io.h: gray replicated, alpha not used, 16-bit kept). The whole graph
// runs in one executable (no head/tail split), so every conv input is observed; x2/x1 models get their tiles
// reflect-padded to the input multiple as in upscaling. Each image is decoded twice (once for its size, once
// for its tiles), so memory stays that of one image whatever the folder holds.
// Errors: no image decodes ("none of the N images could be read (<first error>)"), num_tiles outside [1,
// kMaxCalibrationTiles], tile < 8, a model with fp16/int8 layers (calibrate the FP32 one), a model that fails to
// compile or run. An image that does not decode is skipped and reported through on_warning.
//
// Default method, by measurement: PSNR of the all-INT8 (symmetric) realesrgan-x4fast output against its FP32
// output, cpu backend, 200 tiles of 128 from images other than the one measured:
//   calibrated on -> measured on        minmax  pct 99.9  pct 99.99  pct 99.999    kl     mse
//   0001.png -> 0002.png                  34.6     37.6      38.4       37.4       36.5   38.0 dB
//   0001.png + its golden x4 -> 0002.png  34.6     36.9      38.5       38.0       35.9   38.3 dB
//   0002.png -> 0001.png                  28.2     30.9      32.6       31.2       29.2   31.8 dB
// percentile 99.99 is best every time; kl clips hardest (thresholds near 1/3 of max|x| where percentile keeps
// ~45%) and loses 2-3 dB on this model. Asymmetric input quantization adds about 0.1 dB.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/utc_timestamp.h"
#include "engine/model_loader.h"
#include "ir/graph.h"
#include "quant/activation_stats.h"
#include "quant/calib_table.h"
#include "quant/threshold_methods.h"

namespace resr::quant {

// The most tiles one calibration takes (100-1000 is the usual range).
inline constexpr int kMaxCalibrationTiles = 100000;

struct CalibrateOptions {
  int num_tiles = 200;  // [1, kMaxCalibrationTiles]
  int tile = 128;
  std::uint64_t seed = 0;
  Method method = Method::kPercentile;  // see the measurement above
  MethodOptions method_options;
  std::string backend = "cpu";  // "cpu" or "ref": both run FP32 and observe
  int bins = 2048;
  std::function<void(int tiles_done, int tiles_total)> on_tile;  // progress, after each tile
  std::function<bool()> stop;  // asked after each tile: true ends the run with "calibration interrupted"
  std::function<void(const std::string& warning)> on_warning;  // "<file>: <problem>" for a skipped image
};

inline constexpr float kFlatTileLevels = 8.0f / 255.0f;

struct CalibrateReport {
  int images_used = 0, images_skipped = 0;
  int tiles = 0;
  // Tiles with under kFlatTileLevels levels of contrast in every channel (flat colour, black frames): ranges from
  // them miss what photos hold (all-black calibration measured 9 dB worse INT8), so the CLI warns past half.
  int flat_tiles = 0;
  // Tile positions the images hold (an image smaller than the tile: one), at most 2^62: fewer than `tiles` means
  // tiles repeat (their statistics add nothing), which the CLI notes.
  std::uint64_t distinct_tiles = 0;
  double seconds = 0;            // the whole calibration
  double observe_seconds = 0;    // of which: statistics in the observer
  double threshold_seconds = 0;  // of which: the threshold method
};

[[nodiscard]] Result<CalibTable> calibrate(const engine::LoadedModel& model, const std::vector<std::string>& images,
                                           const CalibrateOptions& options, CalibrateReport* report = nullptr);

// The table for `g` from statistics keyed by its value ids: one line per observed value, in value id order,
// stamped with g's fingerprint, the method, samples, tile and the current UTC date.
CalibTable make_table(const ir::Graph& g, const ActivationStats& stats, Method method, const MethodOptions& options,
                      int samples, int tile);

}  // namespace resr::quant
