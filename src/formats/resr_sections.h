// The JSON sections of a .resr file (internal to the .resr reader and writer; resr_file.h is the API).
//
// Graph section: {"input": v, "output": v, "values": [{"name", "channels"}...], "nodes": [...]}; each node has
// "op" (ir::op_name), "name", "inputs", "output", and by op:
//   Conv2d       "conv": {"in", "out", "kernel_h", "kernel_w", "stride", "pad", "dilation",
//                         "activation": "none"|"relu"|"leaky_relu", "slope"},
//                "precision": "fp32"|"fp16"|"int8"|"fp8", "quant": {"in_scale", "in_zero", "asymmetric",
//                "weight_scales": [...], "in_channel_scales": [...] (int8, optional; format version 2)} (int8 and
//                fp8), "weights": [offset, count], "bias": [offset, count] (optional)
//   PReLU        "slopes": [offset, count]
//   WeightedSum  "coeffs": [...]
//   UpsampleNearest / PixelShuffle / PixelUnshuffle   "factor"
// [offset, count] name an array in the weight blob: offset in bytes from the blob's start, count in elements
// (fp32; conv weights at the node's precision: fp32, binary16 or int8). Arrays lie in node order without
// overlap, so a file cannot make the reader allocate more than a few times its blob size.
// Value producers are not stored: each node's output value is produced by it.
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "core/status.h"
#include "formats/resr_file.h"
#include "ir/graph.h"
#include "ir/int8_weight.h"

namespace resr::formats::resr_sections {

// Appends the weight arrays to `blob` (each 64-byte aligned) and returns the graph section.
[[nodiscard]] Result<nlohmann::json> graph_to_json(const ir::Graph& g, std::vector<std::uint8_t>* blob);
// Builds the graph from its section and the blob; errors start with "graph: ". Does not run ir::verify.
[[nodiscard]] Result<ir::Graph> graph_from_json(const nlohmann::json& j, std::span<const std::uint8_t> blob);

nlohmann::json metadata_to_json(const ResrMetadata& m);
// Errors start with "metadata: ".
[[nodiscard]] Result<ResrMetadata> metadata_from_json(const nlohmann::json& j);

// The int8 value the file stores for weight w of an output channel with scale s (as the INT8 kernels do).
using ir::int8_weight_value;
using ir::quantize_weight;

}  // namespace resr::formats::resr_sections
