// resr model conversion and quantization as a C++ library: what `resr calibrate` and `resr convert` do.
//
//   #include <resr/convert.h>
//   resr::CalibrationOptions c;
//   c.model = "x4fast";  c.images = "photos/";  c.output = "x4fast.calib";
//   resr::Result<resr::CalibrationResult> table = resr::calibrate(c);     // INT8 / FP8 activation ranges
//   resr::ConvertOptions v;
//   v.model = "x4fast";  v.output = "x4fast.int8.resr";  v.precision = "int8";  v.calib = "x4fast.calib";
//   resr::Result<resr::ConvertResult> done = resr::convert(v);           // one compiled file, any precision
//   // then resr::UpscalerOptions::model_path = "x4fast.int8.resr"
//
// Errors are one-line Status messages; options are named as the CLI names them ("--calib"). Every option is
// checked before the model is loaded, and nothing is written on error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace resr {

struct CalibrationOptions {
  std::string model;       // model name, looked up in model_dir
  std::string model_path;  // or a model file (.param, .pth, .safetensors, .onnx); not both
  std::string model_dir;   // default: $RESR_MODELS, else the models/ folder of the source tree
  // realesr-general-x4v3's denoise blend, as UpscalerOptions (-1: 0.5 with the -wdn twin beside it, as resr upscale
  // runs it, so that the table and the .resr are of the model upscaled; 1: the file alone)
  double denoise_strength = -1;
  std::string dn_model;
  std::string activation;  // as UpscalerOptions: "relu" or "leakyrelu" for SRVGG weights without PReLU slopes
  std::string images;      // a folder of sample images (.png, .jpg, .webp), or one image
  std::string output;      // the calibration table to write
  int tiles = 200;         // seeded tiles drawn from the images (100-1000 is the usual range)
  int tile = 128;          // tile size in input pixels
  std::uint64_t seed = 0;
  std::string method = "percentile";  // minmax, percentile, kl or mse
  double percentile = 99.99;          // of |x|, for "percentile" (another value with another method: an error)
  std::string backend = "cpu";        // the FP32 run that is observed: "cpu" or "ref"
};

struct CalibrationResult {
  int images_used = 0, images_skipped = 0;  // skipped images are named in `warnings`
  int tiles = 0;
  int tensors = 0;  // activation ranges in the table
  double seconds = 0;
  std::vector<std::string> warnings;
  bool activation_assumed = false;  // ReLU assumed for SRVGG weights without PReLU slopes (options.activation)
};

// Runs the FP32 model over the tiles and writes the table. on_tile(done, total) reports progress after each tile;
// returning false stops the run ("calibration interrupted"), and nothing is written.
[[nodiscard]] Result<CalibrationResult> calibrate(const CalibrationOptions& options,
                                                  const std::function<bool(int, int)>& on_tile = {});

struct ConvertOptions {
  std::string model, model_path, model_dir;  // as CalibrationOptions
  double denoise_strength = -1;              // as CalibrationOptions
  std::string dn_model;
  std::string activation;
  std::string output;       // OUT.resr (compiled), or OUT.param (ncnn; OUT.bin beside it)
  std::string precision;    // .resr: fp32 (default), fp16, int8, fp8 or int8+fp8 (each conv the better of the two)
  std::string storage;      // ncnn: fp32 (default) or fp16 weights
  std::string calib;        // int8 / fp8: the table from calibrate()
  std::string qtable;       // int8 / fp8: per-conv precisions, "<name> <fp32|fp16|int8|fp8>" a line
  bool asymmetric = false;  // int8: asymmetric activations
  // int8: "channel" (a scale per input channel; the default when symmetric) or "tensor" (one per conv input)
  std::string input_scales;
  // int8 per-channel input scales, how much of each channel's range moves into the weights: "" (the default, 0.5),
  // a strength in (0, 1] ("0.75"), "auto" (whichever of 0.5, 0.75 and 1 measures best on `images`) or "estimate"
  // (per group of convs sharing an input quantization, whichever of 0.25, 0.5, 0.75 and 1 has the least estimated
  // error; no images needed), as `resr convert --scale-migration` takes
  std::string scale_migration;
  double target_psnr = 0;  // > 0: keep the least tolerant convs at FP32 until within this many dB of FP32
  std::string images;      // int8 / fp8: folder of sample images to measure on (quality; target_psnr, int8+fp8, "auto")
  int search_tiles = 8, search_tile = 48;
};

struct ConvertResult {
  std::string files;         // what was written: "a.resr", or "a.param and a.bin"
  std::size_t bytes = 0;     // of the .resr file, or of the ncnn weights
  std::string architecture;  // .resr: "RRDBNet (num_block 23, num_feat 64, num_grow_ch 32)"; ncnn: "RRDBNet"
  int convs_fp32 = 0, convs_fp16 = 0, convs_int8 = 0, convs_fp8 = 0;  // .resr
  double quantized_share = 0;                                         // .resr: share of multiply-adds in INT8 or FP8
  double search_psnr_db = 0;        // with target_psnr or int8+fp8: the chosen mix's PSNR against FP32 on the samples
  bool target_reached = true;       // with target_psnr: whether the chosen mix met it
  bool activation_assumed = false;  // ReLU assumed for SRVGG weights without PReLU slopes (options.activation)
  // int8 / fp8 with images: the model's PSNR against FP32 on quality_tiles sample tiles (infinite when equal; the
  // search's result when it ran), kept in the .resr; quality_tiles 0: not measured.
  double quality_psnr_db = 0;
  int quality_tiles = 0;
};

// Converts the model and writes it. on_progress receives the precision search's lines; returning false stops the
// run ("choosing the scale migration interrupted", "precision search interrupted", or "conversion interrupted" once
// the search is over; Status::stopped), and nothing is written.
[[nodiscard]] Result<ConvertResult> convert(const ConvertOptions& options,
                                            const std::function<bool(const std::string&)>& on_progress = {});

}  // namespace resr
