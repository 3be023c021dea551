// .resr: resr's compiled model file. One versioned file holding a graph at its chosen precisions (ir::Precision
// per conv, with the INT8 scales) and its weights as they run: fp32, binary16, or int8 with per-channel scales.
// Layout: resr_layout.h (header with magic, version, sizes and CRC-32; metadata JSON; graph JSON; one 64-byte
// aligned weight blob).
//
//   ResrMetadata meta;  meta.model = "realesrgan-x4plus";  meta.source_fingerprint = ir::graph_fingerprint(fp32);
//   Result<std::vector<std::uint8_t>> bytes = serialize_resr(graph, meta);
//   Status st = write_resr_file(*bytes, "x4plus-int8.resr");          // temporary file, then rename
//   Result<ResrModel> m = read_resr_file("x4plus-int8.resr");         // mmap, every check, ir::verify
//
// What the file stores per conv: fp32 weights as they are; fp16 weights as binary16 (rounded to nearest even);
// int8 weights as qw = clamp(nearbyint(w * f_c / weight_scales[o]), -127, 127) in [oc][ic][kh][kw] order (f_c
// the input channel's per-channel factor, 1 without; ir::int8_weight_codes). Bias and PReLU slopes are fp32.
// Reading gives fp16 weights widened and int8 weights dequantized to qw * scale / f_c (a file whose weights do
// not requantize to their qw that way is refused), so a read-back graph equals stored_form(written graph) (see
// below) and INT8 kernels requantize to the same qw. Per-channel input scales need format version 2.
//
// Untrusted input: reading checks magic, version, declared vs actual size, the CRC, every section and array
// bound and every JSON field before allocating from it, then ir::verify; errors are one line ("x.resr:
// checksum mismatch: the file is corrupt"). This code is fuzzed (tests/fuzz/fuzz_resr_reader.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/precision_summary.h"
#include "ir/graph.h"

namespace resr::formats {

// Whether a file's first bytes are the .resr magic (8 bytes needed).
bool has_resr_magic(std::span<const std::uint8_t> head);

// The metadata section: provenance of the file, for `resr info` and for tools that check a file's origin.
struct ResrMetadata {
  std::string model;                     // model name (the source file's stem)
  std::string source;                    // the model file it was made from
  std::string architecture;              // e.g. "RRDBNet (num_block 23, num_feat 64, num_grow_ch 32)"
  int scale = 0;                         // upscaling factor
  std::uint64_t source_fingerprint = 0;  // ir::graph_fingerprint of the FP32 graph it was made from
  std::string calib_method;              // INT8: the calibration table's method; else empty
  std::string calib_fingerprint;         // INT8: 16 hex digits identifying the calibration table; else empty
  // INT8 / FP8 converted with --images: the output's PSNR (dB; infinite when equal) against the FP32 source's on
  // quality_tiles sample tiles of quality_tile pixels, on the CPU backend. quality_tiles 0: not measured.
  double quality_psnr_db = 0;
  int quality_tiles = 0, quality_tile = 0;
  std::string resr_version;          // set by serialize_resr
  std::string created;               // ISO 8601 UTC; set by serialize_resr when empty
  PrecisionSummary precision;        // set by serialize_resr from the graph
  std::uint32_t format_version = 0;  // set when read: the file's header version
};

struct ResrModel {
  ResrMetadata meta;
  ir::Graph graph;
};

// The whole file image. g must pass ir::verify. Errors: a non-finite INT8 weight, scale or zero point; an fp16
// weight beyond the binary16 range; a non-finite coefficient or activation slope (JSON cannot hold them).
[[nodiscard]] Result<std::vector<std::uint8_t>> serialize_resr(const ir::Graph& g, const ResrMetadata& meta);

// Parses a whole file image; messages carry no file name ("truncated: 100 of 2048 bytes").
[[nodiscard]] Result<ResrModel> parse_resr(std::span<const std::uint8_t> file);

// Maps the file read-only and parses it; messages start with the path.
[[nodiscard]] Result<ResrModel> read_resr_file(const std::string& path);
// The same checks, then the metadata only (no graph is built): for `resr info`.
[[nodiscard]] Result<ResrMetadata> read_resr_metadata(const std::string& path);

// Writes through a temporary beside the path and a rename (core/staged_file.h), synced to the disk first: a failure
// leaves neither file. Errors name the path.
[[nodiscard]] Status write_resr_file(std::span<const std::uint8_t> bytes, const std::string& path);

// The graph a .resr file of g reads back as: fp16 conv weights rounded to binary16, int8 conv weights replaced
// by qw * scale. g must pass ir::verify.
ir::Graph stored_form(ir::Graph g);

// Field-by-field comparison (structure, params, ConvQuant, weights, bias, slopes, coeffs, factors; floats by
// value, NaN equal to NaN); the error names the first difference ("node 12 'conv_body': weights[3] 0.5 vs 0.25").
[[nodiscard]] Status compare_graphs(const ir::Graph& expected, const ir::Graph& actual);

}  // namespace resr::formats
