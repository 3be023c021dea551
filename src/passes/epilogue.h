// What a fused conv epilogue applies after the convolution (passes/fused_steps.h), shared by the backends'
// kernels: y = out_scale * act(conv + bias) + sum_k residual_scales[k] * residual_k. Plain enums, no includes,
// so CUDA device code can use it.
#pragma once

namespace resr::passes {

enum class Act { kNone, kLeaky, kPrelu };  // kLeaky covers ReLU (slope 0); kPrelu takes per-channel slopes

// The most residual terms one epilogue takes (x4plus's RRDB ends need 2: the RDB input and the RRDB input).
constexpr int kMaxResiduals = 3;

}  // namespace resr::passes
