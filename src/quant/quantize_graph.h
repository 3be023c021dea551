// Turning an FP32 graph into a mixed-precision one: the scheme of `resr convert --precision`.
//
//   QuantOptions o;  o.asymmetric = false;  o.per_conv = read_qtable("keep.txt").value();
//   Status st = quantize_graph(graph, table, o);   // every Conv2d INT8 but those o.per_conv names
//   Status st = round_to_fp16(graph);             // every Conv2d FP16 (weights rounded to binary16)
//
// INT8 (ir::ConvQuant): weights per output channel, symmetric, scale = max|w[o]| / 127 (a zero channel gets
// scale 1); the input activation per tensor from the calibration table's entry for the conv's input value:
// symmetric scale = threshold / 127, zero 0; asymmetric scale = (max' - min') / 255 with [min', max'] the observed
// range clipped to [-threshold, threshold] and widened to contain 0, zero = round(-min' / scale).
// A threshold below kMinThreshold (an all-zero tensor in calibration) counts as 1, and an asymmetric range
// narrower than that as [-1, 1], so every scale is positive and inputs the calibration never saw still pass.
// Weights stay as they are (FP32; kernels quantize them with weight_scales), so the quantized graph keeps the
// fingerprint of the FP32 one. Call it on the graph as loaded (before passes that change weights or names):
// the table's fingerprint is that of the loaded FP32 graph. The result is checked with ir::verify.
// FP8 (QuantOptions::precision = kFp8, E4M3, symmetric only): the same per-channel and per-tensor scheme with 448
// for 127, and the input scale from the largest |x| seen (the table's min and max), not the threshold: E4M3's
// wide range makes clipping cost more than the coarser steps it saves (docs/quantization.md, measured).
// Mixed INT8 and FP8 (per_conv naming the other quantized precision for some convs): each conv by its own scheme;
// `asymmetric` applies to the INT8 ones.
// Per-channel input scales (symmetric INT8, QuantOptions::channel_scales, a table with channel maxima): the
// tensor scale as above, and per channel f_c = max((m_c / threshold)^channel_migration, 1/64), m_c the channel's
// largest |x|; the weight scales are then those of the folded weights (ir::folded_int8_weights). With
// migration_candidates, each input-quantization group (below) takes the candidate with the least estimated error
// instead (quant/migration_estimate.h).
// Dense blocks: the convs of one precision that read one block (their inputs grow from one concat_root) take
// their input quantization from the union of their inputs' ranges, so that one quantized copy of the block
// serves them all (passes/code_blocks.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/calib_table.h"

namespace resr::quant {

inline constexpr float kMinThreshold = 1e-6f;
// A range's bound as the scales use it: 1 below kMinThreshold.
inline float effective_threshold(float t) {
  return t >= kMinThreshold ? t : 1.0f;
}

struct QuantOptions {
  ir::Precision precision = ir::Precision::kInt8;  // kInt8 or kFp8
  bool asymmetric = false;                         // INT8 only
  // Symmetric INT8: per-channel input scales (ir::ConvQuant::in_channel_scales) where the table has the input's
  // channel maxima (a v2 table); false, or a v1 table: per tensor.
  bool channel_scales = true;
  // How much of each input channel's range moves into the weights: f_c = (m_c / threshold)^channel_migration, in
  // (0, 1]. 1: every channel fills the INT8 range; 0.5 (the default) splits the range ratio between codes and
  // weights. Measured in docs/quantization.md (x4plus best at 1, x4fast at 0.5).
  float channel_migration = 0.5f;
  // Not empty: instead of channel_migration, each group of convs sharing an input quantization (one conv, or the
  // readers of one dense block) takes the one of these strengths, each in (0, 1], with the least estimated error
  // (quant/migration_estimate.h, e.g. kMigrationCandidates; `resr convert --scale-migration estimate`).
  std::vector<float> migration_candidates;
  // Conv node name -> the precision it runs at instead of `precision` (any: fp32 and fp16 keep it out of the
  // quantized ones, int8 and fp8 choose the other scheme).
  std::map<std::string, ir::Precision> per_conv;
};

// Errors (the graph is left unchanged): the table is of another model ("calibration table was made for model
// <hex>, this model is <hex>"), or lacks the input tensor of a conv to be quantized; a per_conv entry names no
// conv of the graph; precision is neither int8 nor fp8; fp8 is asked to be asymmetric; a migration strength outside
// (0, 1]. migrations (optional): the strength each conv given per-channel input scales got, by conv name.
[[nodiscard]] Status quantize_graph(ir::Graph& g, const CalibTable& table, const QuantOptions& options,
                                    std::map<std::string, float>* migrations = nullptr);

// Every Conv2d not already INT8 or FP8 becomes kFp16 with weights and bias rounded to binary16 (nearest even).
// Error: a parameter beyond the fp16 range (|x| > 65504).
[[nodiscard]] Status round_to_fp16(ir::Graph& g);

// Error when `table` was made for another model than g (by graph fingerprint): "calibration table was made for
// model <hex>, this model is <hex>"; or has a range for a tensor no conv of g reads (a line added by hand).
[[nodiscard]] Status check_table_model(const ir::Graph& g, const CalibTable& table);

// Error when a per_conv entry names no conv of g: "'body.9' (to run at fp32) is no convolution of this model".
[[nodiscard]] Status check_conv_names(const ir::Graph& g, const std::map<std::string, ir::Precision>& per_conv);

// A --qtable file: one "<conv node name> <fp32|fp16|int8|fp8>" per line; '#' starts a comment, blank lines are
// ignored. Errors name the file and line: a malformed line, an unknown precision, a name listed twice.
[[nodiscard]] Result<std::map<std::string, ir::Precision>> read_qtable(const std::string& path);

}  // namespace resr::quant
