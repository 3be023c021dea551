// A conv epilogue (element_math.h epilogue_value: y = out_scale * act(conv + bias) + sum_k s_k * r_k) as a chain
// of elementary pointwise ops, the form cuDNN's graph API takes it in (fused_conv.h). Plain C++: the host tests
// evaluate the chain and compare it with epilogue_value.
//
// The ops extend one main path from the conv's result, as runtime fusion wants: the scales are applied in Horner
// form, v = ((act(conv + bias) * s0/s1 + r1) * s1/s2 + r2) * s2 (so no residual scale may be 0), and a per-channel
// PReLU is relu(v) + a * (v - relu(v)).
//
// INT8 and FP8 convs: the conv's sums (int32, or fp32 of E4M3 products) are first multiplied by the per-channel
// dequantization factor (input scale x weight scale). A hand-over (quantize_output: the next conv, of the same
// precision, reads this output alone) divides the result by that conv's input scale, then
// - kInt8: rounds half up and clamps to [-127, 127]: floor(v / s + 0.5), as element_math.h quantize_symmetric
//   (which rounds ties to even);
// - kE4m3: clamps to [-448, 448] and leaves the rounding to the E4M3 store (nearest even): saturating, as
//   core/fp8.h round_to_e4m3 and the kernels' __NV_SATFINITE conversion.
#pragma once

#include <cstdint>
#include <vector>

#include "passes/epilogue.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

enum class HandOver { kNone, kInt8, kE4m3 };

struct EpilogueForm {
  bool has_bias = false;
  passes::Act act = passes::Act::kNone;
  float leaky_slope = 0.0f;         // kLeaky, and a PReLU of one slope
  bool per_channel_slopes = false;  // kPrelu with a slope per channel
  float out_scale = 1.0f;
  int residual_count = 0;
  float residual_scales[passes::kMaxResiduals] = {};
  bool dequantize = false;  // INT8 input: multiply the sums by the per-channel dequantization factor first
  HandOver quantize_output = HandOver::kNone;  // write the result quantized with output_scale
  float output_scale = 1.0f;
};

// An operand: nothing, a per-channel fp32 tensor (the bias, the slopes, the dequantization factors or constant
// k), a residual, or an earlier value of the chain (0: the conv's result, i + 1: op i's result).
struct ChainOperand {
  enum Kind { kNone, kBias, kSlopes, kDequant, kConstant, kResidual, kValue } kind = kNone;
  int index = 0;  // kConstant: constant k; kResidual: residual k; kValue: the value
};

struct ChainOp {
  // kRelu: max(v, 0) + slope * min(v, 0); kMin / kMax: with b; kFloor: unary.
  enum Mode { kAdd, kSub, kMul, kRelu, kMin, kMax, kFloor } mode = kAdd;
  int x = 0;  // the value read
  ChainOperand b;
  float slope = 0.0f;
};

struct EpilogueChain {
  std::vector<ChainOp> ops;  // the last op writes the output
  std::vector<float> constants;
};

// The form of a lowered conv's epilogue; a PReLU of one slope becomes kLeaky-like (leaky_slope = that slope).
EpilogueForm epilogue_form(const passes::ConvEpilogue& e, bool has_bias);

// Empty when the epilogue is the identity. Precondition: no residual scale is 0.
EpilogueChain epilogue_chain(const EpilogueForm& form);

}  // namespace resr::cuda
