// Turning an FP32 graph into a mixed-precision one: the scheme of `resr convert --precision`.
//
//   QuantOptions o;  o.asymmetric = false;  o.keep = read_qtable("keep.txt").value();
//   Status st = quantize_graph(graph, table, o);   // every Conv2d INT8 but those in o.keep
//   Status st = round_to_fp16(graph);             // every Conv2d FP16 (weights rounded to binary16)
//
// INT8 (ir::ConvQuant): weights per output channel, symmetric, scale = max|w[o]| / 127 (a zero channel gets
// scale 1); the input activation per tensor from the calibration table's entry for the conv's input value:
// symmetric scale = threshold / 127, zero 0; asymmetric scale = (max' - min') / 255 with [min', max'] the observed
// range clipped to [-threshold, threshold] and widened to contain 0, zero = round(-min' / scale).
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/calib_table.h"

namespace resr::quant {

struct QuantOptions {
  bool asymmetric = false;
  // Conv node name -> precision to keep it at instead of INT8 (fp16 or fp32).
  std::map<std::string, ir::Precision> keep;
};

// Errors: the table is of another model (fingerprint mismatch), or lacks the input tensor of a conv to be
// quantized; a keep entry names no conv of the graph.
[[nodiscard]] Status quantize_graph(ir::Graph& g, const CalibTable& table, const QuantOptions& options);

// Every Conv2d (or every one not already INT8) becomes kFp16 with weights and bias rounded to binary16.
[[nodiscard]] Status round_to_fp16(ir::Graph& g);

// A --qtable file: one "<conv node name> <fp16|fp32>" per line, '#' comments and blank lines ignored.
[[nodiscard]] Result<std::map<std::string, ir::Precision>> read_qtable(const std::string& path);

}  // namespace resr::quant
