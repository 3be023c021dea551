// Mixed-precision search (`resr convert --target-psnr DB`): which convs to keep out of INT8 so that the output
// stays within a PSNR target of the FP32 output, keeping as many multiply-adds in INT8 as possible. The same for
// FP8 when base_options.precision is kFp8: "INT8" below then reads "the quantized precision".
// With choose_int8_or_fp8 (`--precision int8+fp8`), each conv first gets whichever of INT8 and FP8 measured better.
//
//   SearchOptions o;  o.target_psnr_db = 38;
//   Result<SearchResult> r = search_precision(fp32_graph, table, base_options, sample_tiles, o);
//   // r->per_conv: QuantOptions::per_conv for quantize_graph; r->curve: PSNR against the INT8 share, as measured
//
// Method: every candidate is measured, never predicted: a mixed graph is quantized (quantize_graph), compiled
// for the CPU backend and run on the sample tiles; its PSNR is that of all output samples (clamped to [0, 1])
// against the FP32 outputs. First all convs in INT8; when that misses the target, each conv alone in INT8 gives
// its sensitivity (the squared error it adds; deep models: each run of consecutive convs, at most max_groups
// runs), the convs are ranked by squared error per multiply-add saved
// (keeping the worst offenders costs the least INT8 share), and a bisection over that ranking finds the
// shortest prefix to keep for the target to hold. Every point measured on the way is part of the curve.
// choose_int8_or_fp8: each conv (or run) is measured alone in INT8 and alone in FP8 first, and takes the precision
// of the smaller error; that error is then its sensitivity, and "all quantized" means every conv at its choice.
// Choosing by errors measured one conv at a time assumes they roughly add up; the all-quantized run checks it.
// Convs that base.per_conv names stay as named (never candidates).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "quant/calib_table.h"
#include "quant/quantize_graph.h"

namespace resr::quant {

struct SearchOptions {
  double target_psnr_db = 38.0;  // -INFINITY: none (with choose_int8_or_fp8: only choose, keep nothing)
  ir::Precision keep_precision = ir::Precision::kFp32;  // or kFp16
  int max_groups = 48;  // more convs than this: measured in runs of consecutive convs (x4plus: 351 convs)
  bool choose_int8_or_fp8 = false;
  std::function<void(const std::string& line)> on_progress;
  std::function<bool()> stop;  // asked before each measurement: true ends the search with "... interrupted"
};

struct CurvePoint {
  int kept = 0;                // convs kept out of INT8 / FP8 (the first `kept` of the ranking)
  double quantized_share = 0;  // share of the model's multiply-adds in INT8 or FP8
  double psnr_db = 0;          // measured against FP32 on the samples
};

struct SearchResult {
  // QuantOptions::per_conv of the result (base.per_conv merged in): the kept convs at keep_precision, and with
  // choose_int8_or_fp8 the convs that chose the quantized precision other than base.precision.
  std::map<std::string, ir::Precision> per_conv;
  int kept = 0;  // convs of per_conv at neither INT8 nor FP8
  double quantized_share = 0, psnr_db = 0;
  bool reached = false;              // false: even the largest kept set measured missed the target
  std::vector<std::string> ranking;  // convs, most harmful per multiply-add first (empty when none was needed)
  std::vector<CurvePoint> curve;     // sorted by quantized_share, descending
  int evaluations = 0;
};

// How reports name the quantized precision: "INT8+FP8" (chosen per conv), else "FP8" or "INT8" (`base`).
const char* quantized_kind(bool int8_or_fp8, ir::Precision base);

// Share of multiply-adds (at the samples' size) that run in INT8 or FP8 in `g` (its ConvQuant settings).
double quantized_mac_share(const ir::Graph& g, int h, int w);

// `count` tiles of exactly tile x tile pixels cut from the images (choose_tiles, seeded; images smaller than a
// tile are skipped): the samples of the search. One decoded image is held at a time, as calibration does (sizes
// first, then each image with a chosen tile again). Files that do not decode go to on_skipped ("path: why").
// Errors: none decodes; none is large enough (naming the largest size found and the tile).
[[nodiscard]] Result<std::vector<Tensor>> load_sample_tiles(
    const std::vector<std::string>& images, int count, int tile, std::uint64_t seed = 0,
    const std::function<void(const std::string&)>& on_skipped = {});

// `resr convert --scale-migration auto`: the per-channel migration strength (QuantOptions::channel_migration) of
// `strengths` whose model measures best on the samples (PSNR against FP32, measured as the search measures; ties:
// the first), with every strength's PSNR. base: the user's options (its channel_migration is replaced). stop: asked
// before each measurement; true ends with "... interrupted".
struct MigrationChoice {
  float strength = 0.5f;
  std::vector<std::pair<float, double>> psnr_db;  // (strength, PSNR), in the order measured
};
[[nodiscard]] Result<MigrationChoice> choose_channel_migration(const ir::Graph& fp32, const CalibTable& table,
                                                               const QuantOptions& base,
                                                               const std::vector<Tensor>& samples,
                                                               const std::vector<float>& strengths,
                                                               const std::function<bool()>& stop = {});

// `resr convert --images` without a search: the PSNR (dB; infinite when equal) of `reduced`, a graph quantize_graph
// made from `fp32`, against `fp32` on the samples, measured as the search measures (CPU backend, outputs clamped to
// [0, 1]).
[[nodiscard]] Result<double> measure_psnr(const ir::Graph& fp32, const ir::Graph& reduced,
                                          const std::vector<Tensor>& samples);

// samples: 3 x h x w tiles in [0, 1], all of one size. base: the user's options (asymmetric, --qtable).
[[nodiscard]] Result<SearchResult> search_precision(const ir::Graph& fp32, const CalibTable& table,
                                                    const QuantOptions& base, const std::vector<Tensor>& samples,
                                                    const SearchOptions& options);

}  // namespace resr::quant
