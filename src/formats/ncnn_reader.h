// Reader for ncnn models: a .param text graph plus a .bin weight file, into an ir::Graph.
//
//   Result<ir::Graph> g = read_ncnn_model("models/realesrgan-x4plus.param", "models/realesrgan-x4plus.bin");
//
// Layer types understood: Input, Split, Convolution (+ fused ReLU/LeakyReLU), PReLU, Concat (channels),
// Eltwise SUM (with coefficients), BinaryOp add, Interp nearest (integer scale), PixelShuffle, Reorg mode 0
// (PixelUnshuffle, PyTorch channel order, as resr convert writes it).
// .bin layout (ncnn ModelBin): per Convolution, a 4-byte storage tag then the weights (tag 0x01306B47: fp16,
// 0x00000000 / 0x0002C056: fp32), padded to 4 bytes, then raw fp32 bias; per PReLU, raw fp32 slopes.
// The file must be consumed exactly. Every error names the file and, for the .param, the line.
// Untrusted input: sizes are checked before allocation; this code is fuzzed (tests/fuzz).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ir/graph.h"

namespace resr::formats {

// Parses in-memory contents; error messages carry no file name ("line 3: ..." / "weights: ...").
[[nodiscard]] Result<ir::Graph> parse_ncnn_model(std::string_view param_text, std::span<const std::uint8_t> bin);

// Reads both files; the message names the file at fault ("x.param: line 3: unknown layer type 'Foo'").
[[nodiscard]] Result<ir::Graph> read_ncnn_model(const std::string& param_path, const std::string& bin_path);

}  // namespace resr::formats
