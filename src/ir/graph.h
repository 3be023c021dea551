// ir::Graph: the model as a list of nodes in execution (topological) order over SSA values.
//
// Every value is a CHW float tensor of batch 1. Channel counts are fixed by the graph; heights and widths
// follow from the input size (see infer_shapes). Ops (ops.def):
//   Input                     the image, 3 channels
//   Conv2d                    weights [oc][ic][kh][kw], optional bias [oc], fused activation (none/relu/leaky)
//   PRelu                     per-channel slopes
//   Concat                    along channels, inputs in order
//   WeightedSum               out = sum_i coeffs[i] * in[i]  (residual adds: 0.2 * x + y; plain add: 1, 1)
//   UpsampleNearest           integer factor `factor` in both directions
//   PixelShuffle              [c*r*r, h, w] -> [c, h*r, w*r], PyTorch channel order
//   PixelUnshuffle            [c, h*r, w*r] -> [c*r*r, h, w], PyTorch channel order; h and w must divide by r
// Graphs are built by format readers and validated by verify(); kernels may then assume the invariants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace resr::ir {

enum class Op {
#define RESR_OP(name, display) k##name,
#include "ir/ops.def"
#undef RESR_OP
};
const char* op_name(Op op);

enum class Activation { kNone, kRelu, kLeakyRelu };

// Precision a Conv2d runs at. kFp32 is the default; kFp16 means its weights are rounded to (and stored as)
// binary16 while compute stays fp32; kInt8 means int8 x int8 -> int32 arithmetic as set by ConvQuant; kFp8 means
// FP8 E4M3 x E4M3 products summed in fp32 (Hopper's FP8 tensor cores), scaled as set by ConvQuant.
enum class Precision { kFp32, kFp16, kInt8, kFp8 };
const char* precision_name(Precision p);                     // "fp32", "fp16", "int8", "fp8"
bool parse_precision(const std::string& s, Precision* out);  // inverse of precision_name
// INT8 or FP8: the precisions with scales (ConvQuant) from a calibration table.
inline bool is_quantized(Precision p) {
  return p == Precision::kInt8 || p == Precision::kFp8;
}

// INT8 quantization of one Conv2d (precision == kInt8):
//   input  (per tensor):          q = clamp(round(x / in_scale) + in_zero, qmin, qmax),  x^ = (q - in_zero) * in_scale
//                                 symmetric: in_zero = 0, q in [-127, 127]; asymmetric: q in [0, 255], in_zero in [0,
//                                 255]
//   weights (per output channel): qw = clamp(round(w / weight_scales[o]), -127, 127), w^ = qw * weight_scales[o]
//   out = sum(x^ * w^) + bias, then the activation; accumulation is exact in int32.
// For an INT8 node, Node::weights may hold the dequantized weights qw * scale (a .resr file stores only qw);
// requantizing them with the same scales gives qw back exactly.
// Per-channel input scales (INT8, symmetric, in_channel_scales not empty): input channel c is quantized with
// in_scale * f_c (f = in_channel_scales, input_channel_scale), and the weights reading it fold f_c in:
//   qw = clamp(round(w * f_c / weight_scales[o]), -127, 127),  w^ = qw * weight_scales[o] / f_c
// so that sum(x^ * w^) = in_scale * weight_scales[o] * sum(q * qw): the kernels' integer products and
// dequantization stay per tensor, only the quantizing of the input is per channel. quantize_graph's factors move
// part of each channel's range into the weights (docs/quantization.md measures why).
// FP8 E4M3 (precision == kFp8; core/fp8.h), symmetric only (in_zero 0):
//   input  (per tensor):          x^ = round_to_e4m3(x / in_scale) * in_scale
//   weights (per output channel): w^ = round_to_e4m3(w / weight_scales[o]) * weight_scales[o]
//   out = sum(x^ * w^) + bias, then the activation; each product is exact in fp32, the sum is fp32.
// The same holds for the weights as for INT8: they may be the dequantized w^, which requantize to themselves.
struct ConvQuant {
  Precision precision = Precision::kFp32;
  float in_scale = 0.0f;
  int in_zero = 0;
  bool asymmetric = false;
  std::vector<float> weight_scales;      // [oc]
  std::vector<float> in_channel_scales;  // [ic] factors f_c > 0 (INT8 symmetric), or empty: per tensor
};

// Input channel c's quantization scale: in_scale * in_channel_scales[c], or in_scale when per tensor. Every
// quantizer (CPU, CUDA, reference) divides by this one float, so that all give the same codes.
inline float input_channel_scale(const ConvQuant& q, int c) {
  return q.in_channel_scales.empty() ? q.in_scale : q.in_scale * q.in_channel_scales[std::size_t(c)];
}
// Every input channel's scale (input_channel_scale), or empty when per tensor.
std::vector<float> input_channel_scales(const ConvQuant& q);

struct ConvParams {
  int in_channels = 0, out_channels = 0;
  int kernel_h = 3, kernel_w = 3;
  int stride = 1, pad = 1, dilation = 1;
  Activation activation = Activation::kNone;
  float activation_slope = 0.0f;  // LeakyReLU negative slope
};

struct Node {
  Op op = Op::kInput;
  std::string name;            // the source file's layer name (ncnn layer, PyTorch module path)
  std::vector<int> inputs;     // value ids
  int output = -1;             // value id
  ConvParams conv;             // Conv2d
  ConvQuant quant;             // Conv2d precision and INT8 / FP8 scales
  std::vector<float> weights;  // Conv2d [oc][ic][kh][kw]
  std::vector<float> bias;     // Conv2d [oc], may be empty
  std::vector<float> slopes;   // PRelu [c] (a single slope is broadcast)
  std::vector<float> coeffs;   // WeightedSum, one per input
  int factor = 1;              // UpsampleNearest factor, PixelShuffle / PixelUnshuffle r
};

// An FP8 conv's weights (precision kFp8, weight_scales set) as E4M3 codes of w / weight_scales[o], and as the
// values those codes stand for, times the scale: w^ in ConvQuant's comment. In the order of Node::weights.
std::vector<std::uint8_t> fp8_weight_codes(const Node& n);
std::vector<float> fp8_weight_values(const Node& n);

// An INT8 conv's weights as its kernels quantize them: w * in_channel_scales[c] for input channel c (a copy of
// the weights when per tensor), so that ir::quantize_weight(folded, weight_scales[o]) is qw. `weights` in the
// order of Node::weights; the Node forms take the node's own.
std::vector<float> folded_int8_weights(const ConvParams& p, const ConvQuant& q, std::span<const float> weights);
std::vector<float> folded_int8_weights(const Node& n);
// The INT8 weight codes qw of ConvQuant's rule, in the order of Node::weights.
std::vector<std::int8_t> int8_weight_codes(const ConvParams& p, const ConvQuant& q, std::span<const float> weights);
std::vector<std::int8_t> int8_weight_codes(const Node& n);
// The values w^ those codes stand for (int8_weight_value), what a .resr file reads back.
std::vector<float> int8_weight_values(const Node& n);

struct Value {
  std::string name;
  int channels = 0;
  int producer = -1;  // node index
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;
  int input = -1;   // value id of the Input node's output
  int output = -1;  // value id of the model output

  int add_value(std::string name, int channels);
  // Number of nodes consuming each value (the graph output counts as one extra use).
  std::vector<int> use_counts() const;
  // Index of the last node reading each value (nodes.size() for the graph output, -1 if unused).
  std::vector<int> last_uses() const;
  // The value a dense block's concats grow from: for a Concat's output, concat_root of its first input; else
  // `value` itself. (RRDBNet: the block input x for x and every concat(x, x1, ...).)
  int concat_root(int value) const;
};

// Checks structure: ids in range, topological order, channel counts consistent, weight sizes, params sane.
[[nodiscard]] Status verify(const Graph& g);

// Spatial size of every value for an input of h x w; error when an op cannot take its inputs.
[[nodiscard]] Result<std::vector<Shape>> infer_shapes(const Graph& g, int h, int w);

}  // namespace resr::ir
