// Model conversion, as `resr convert` and the library's resr::convert_model run it: a loaded model written as
// ncnn (.param/.bin, fp32 or fp16 weights) or as one compiled .resr file at a precision (fp32, fp16, or int8 / fp8
// from a calibration table, quant/quantize_graph.h, or int8+fp8: each conv the better of the two, as measured on
// sample images, quant/precision_search.h).
//
//   ConvertRequest r;
//   r.output = "x4fast.int8.resr";
//   r.precision = "int8";
//   r.calib = "x4fast.calib";
//   RESR_RETURN_IF_ERROR(check_convert_request(r));          // before loading the model
//   RESR_ASSIGN_OR_RETURN(ConvertReport rep, convert_model(model, r));
//
// Every option combination is checked first; the output is serialized, read back and compared before anything
// is written, and it is written atomically.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "engine/model_loader.h"
#include "formats/precision_summary.h"
#include "quant/precision_search.h"

namespace resr::conversion {

// --scale-migration, read: how the migration strength of INT8 per-channel input scales is chosen.
struct ScaleMigration {
  enum class Mode {
    kDefault,    // "": the default strength (QuantOptions::channel_migration's)
    kFixed,      // a number in (0, 1]: that strength
    kMeasured,   // "auto": whichever of 0.5, 0.75 and 1 measures best on the images (quant::choose_channel_migration)
    kEstimated,  // "estimate": per group of convs sharing an input quantization, the one of
                 // quant::kMigrationCandidates with the least estimated error (quant/migration_estimate.h)
  };
  Mode mode = Mode::kDefault;
  float strength = 0;  // kFixed's
};
// The text of --scale-migration (or the API's scale_migration) read; nullopt for anything but "", "auto",
// "estimate" or a number in (0, 1] (the whole text, in the "C" locale's form whatever the process's locale).
std::optional<ScaleMigration> parse_scale_migration(const std::string& text);

struct ConvertRequest {
  std::string output;       // OUT.resr, or OUT.param (OUT.bin is written beside it)
  std::string to;           // "ncnn" or "resr"; empty: resr when output ends in .resr, else ncnn
  std::string storage;      // ncnn: "fp32" or "fp16" conv weights; empty: fp32
  std::string precision;    // resr: fp32, fp16, int8, fp8 or int8+fp8; empty: fp32
  std::string calib;        // int8 / fp8: the calibration table (resr calibrate)
  std::string qtable;       // int8 / fp8: per-conv precisions, "<name> <fp32|fp16|int8|fp8>" a line
  bool asymmetric = false;  // int8: asymmetric (uint8, zero point) activations
  // int8: "channel" (per-channel input scales where the table has channel maxima; the default when symmetric)
  // or "tensor"; empty: the default
  std::string input_scales;
  // int8 per-channel input scales: how much of each channel's range moves into the weights, as
  // parse_scale_migration reads it: "" (the default, 0.5), a strength in (0, 1], "auto" or "estimate"
  std::string scale_migration;
  double target_psnr = 0;  // > 0: keep the least tolerant convs at FP32 until within this many dB of FP32
  std::string images;      // target_psnr, int8+fp8: folder of calibration images to measure on
  int search_tiles = 8, search_tile = 48;
  std::function<void(const std::string& line)> on_progress;  // the precision search's progress
  std::function<bool()> stop;  // asked during the search and before writing: true ends with "... interrupted"
};

// Whether INT8 convs get per-channel input scales (where the table has channel maxima): symmetric, and not
// --input-scales tensor.
inline bool wants_channel_scales(const ConvertRequest& r) {
  return !r.asymmetric && r.input_scales != "tensor";
}

struct ConvertReport {
  std::string target;                   // "ncnn" or "resr"
  std::string files;                    // "a.param and a.bin", or "a.resr"
  std::size_t bytes = 0;                // of the weights (ncnn .bin) or of the .resr file
  std::size_t layers = 0;               // ncnn
  std::string architecture;             // resr: "RRDBNet (num_block 23, num_feat 64, num_grow_ch 32)"; ncnn: "RRDBNet"
  formats::PrecisionSummary precision;  // resr: convs and multiply-adds at each precision
  std::string quantized_kind;           // resr: "INT8", "FP8" or "INT8+FP8"
  int channel_scaled_convs = 0;         // resr: INT8 convs with per-channel input scales
  float scale_migration = 0;            // resr, --scale-migration auto: the strength chosen
  std::map<float, int> estimated_migrations;  // resr, --scale-migration estimate: strength -> INT8 convs given it
  double quantized_share = 0;                 // resr: of multiply-adds in INT8 or FP8
  std::optional<quant::SearchResult> search;  // with target_psnr or int8+fp8
  int search_samples = 0;                     // tiles the search measured on
  // resr, int8 / fp8 with --images: the model's PSNR against FP32 on quality_tiles sample tiles (the search's
  // result when it ran; infinite when equal); quality_tiles 0: not measured.
  double quality_psnr_db = 0;
  int quality_tiles = 0;
};

// The target `r` resolves to ("ncnn" or "resr").
std::string convert_target(const ConvertRequest& r);

// Whether a ConvertRequest::precision quantizes from a calibration table: int8, fp8 or int8+fp8.
bool is_calibrated_precision(const std::string& precision);

// Option combinations, and that the files named exist and the output can be written, checked before the model is
// loaded ("--precision int8 needs --calib TABLE ...", "t.calib: no such file"). Messages use the CLI's option
// names.
[[nodiscard]] Status check_convert_request(const ConvertRequest& r);

[[nodiscard]] Result<ConvertReport> convert_model(const engine::LoadedModel& model, const ConvertRequest& r);

}  // namespace resr::conversion
