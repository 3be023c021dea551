// Reader for ONNX models (onnx.proto, parsed with libprotobuf and Debian's libonnx-dev), mapped op by op to
// the IR, for the graphs that exporting Real-ESRGAN-family models with torch.onnx.export produces:
//
//   Conv (+ bias; group 1; square kernels, equal strides/dilations, symmetric pads), Relu, LeakyRelu,
//   PRelu, Concat (channels), Add / Sub of feature maps and Mul / Div by constant scalars (folded into
//   WeightedSum coefficients: the 0.2 residual scale), Resize / Upsample nearest with integer factors
//   (from constant scales or sizes), DepthToSpace (CRD = PyTorch pixel_shuffle), the Reshape/Transpose/
//   Reshape (and Unsqueeze/Squeeze) patterns torch emits for pixel_unshuffle and pixel_shuffle, Pad (zeros,
//   folded into the next Conv), Identity, Dropout, Cast to float, Constant.
//   Shape-related subgraphs (Shape, Gather, Slice, Unsqueeze, Concat, Cast, Floor, Ceil, arithmetic on
//   constants, ConstantOfShape) are folded to constants: every feature map carries a concrete shape (the
//   declared input size, or a probe size for dynamic axes), so dynamic exports work when their shape ops
//   only produce Resize scales/sizes and Reshape shapes; anything else that depends on the size is refused.
// Initializers: float32, float16, bfloat16, double, int32/int64 (raw_data or typed fields, or in external data
// files of up to 2 GiB in the model's folder). One input of 3 channels, one output. A clamp the model ends with
// (Clip, or Max and Min against a constant) is dropped when it cuts no more than the clamp to 0..1 of resr's output
// (under TTA, which averages before that clamp, saturated pixels can differ slightly).
//
//   Result<ir::Graph> g = read_onnx_model("realesr-general-x4v3.onnx");
//
// Errors name the node: "x.onnx: node 'Conv_12' (Conv): grouped convolution (group 2) is not supported".
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace resr::formats {

// False when resr was built without libonnx/libprotobuf (the readers then fail with a clear message).
bool onnx_supported();

// `model_folder`: where external data files are looked for (empty: a model that has them is refused).
[[nodiscard]] Result<ir::Graph> parse_onnx_model(std::span<const std::uint8_t> bytes,
                                                 const std::string& model_folder = {});
[[nodiscard]] Result<ir::Graph> read_onnx_model(const std::string& path);

}  // namespace resr::formats
