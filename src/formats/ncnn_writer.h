// Writer for ncnn models: an ir::Graph as a .param text graph and a .bin weight file, in the layout
// ncnn_reader.h reads (and ncnn itself loads): Input, Split (for every value read more than once),
// Convolution (+ fused ReLU 9=1 / LeakyReLU 9=2), PReLU, Concat, Eltwise SUM with coefficients, Interp
// nearest, PixelShuffle, and Reorg (0=r, mode 0: PyTorch pixel_unshuffle channel order) for PixelUnshuffle.
// Convolution weights are stored fp32 (tag 0) or fp16 (tag 0x01306B47, padded to 4 bytes); biases and
// PReLU slopes are always fp32, as ncnn expects.
//
//   NcnnFiles f = serialize_ncnn_model(graph, /*fp16=*/true);
//   RESR_RETURN_IF_ERROR(write_ncnn_model(graph, "out.param", "out.bin", /*fp16=*/true));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace resr::formats {

struct NcnnFiles {
  std::string param;
  std::vector<std::uint8_t> bin;
};

// The graph must pass ir::verify.
NcnnFiles serialize_ncnn_model(const ir::Graph& g, bool fp16);

// Writes both files through temporary names and renames them into place, so a failure leaves no partial
// output. Errors name the file ("out.param: cannot create: Permission denied").
[[nodiscard]] Status write_ncnn_model(const ir::Graph& g, const std::string& param_path, const std::string& bin_path,
                                      bool fp16);

}  // namespace resr::formats
