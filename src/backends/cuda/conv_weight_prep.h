// A conv's weights as the CUDA backend copies them to the device, made on the host (conv_weights.h uploads
// them). Plain C++ and pure, so that the host tests (tests/unit/cuda_plan) check the layouts and roundings
// without a GPU. The executor prepares and uploads one conv after another: preparing all of x4plus's 351 convs
// first, on two threads, took 66 ms against 19 ms one by one here, the fresh memory's page faults outweighing
// the second core.
//
//   HostConvWeights h = prepare_conv_weights(step, /*half=*/true, Layout::kNhwc);
//   RESR_ASSIGN_OR_RETURN(ConvWeights c, upload_conv_weights(step, h, DType::kF16, Layout::kNhwc, stream));
//
// Per precision of the step's node:
// - FP32/FP16 convs: `values_f16` (`half`: binary16, round to nearest even, core/half.h) or `f32()`, as filters
//   [oc][ic][kh][kw] (NCHW) or [oc][kh][kw][ic] (NHWC).
// - INT8 convs (symmetric): `s8` = round half to even of w / weight_scale[oc], clamped to +-127, as
//   [oc4][kh][kw][ic4] (channels padded with zeros to multiples of 4, cuDNN's int8 configuration);
//   `dequant` = in_scale * weight_scale[oc] for oc4 channels (padding 0). With per-channel input scales, w is
//   the folded weight (ir::int8_weight_codes) and `channel_quant` the input channels' scales
//   (ir::input_channel_scales) as channel_quant_pairs; otherwise it is empty.
// - FP8 convs: `e4m3` = their E4M3 codes (ir::fp8_weight_codes) as [oc][kh][kw][ic]; `dequant` = in_scale *
//   weight_scale[oc]; and their FP8 values w^ as a float conv's weights, for the legacy path.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/cuda/device_layout.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

struct HostConvWeights {
  std::vector<std::uint16_t> values_f16;  // float convs stored binary16
  std::vector<float> values_f32;          // float convs stored fp32, when made here
  // float convs stored fp32 in NCHW: the node's own weights, not copied (the node outlives the upload)
  const std::vector<float>* f32_source = nullptr;
  const std::vector<float>& f32() const { return f32_source != nullptr ? *f32_source : values_f32; }
  std::vector<std::int8_t> s8;
  std::vector<std::uint8_t> e4m3;
  std::vector<float> dequant;
  std::vector<float> channel_quant;  // INT8 with per-channel input scales: [ic][2] (channel_quant_pairs), else empty
  int ic4 = 0, oc4 = 0;              // INT8: the padded channel counts
};

HostConvWeights prepare_conv_weights(const passes::Step& s, bool half, Layout layout);

// Per-channel quantization scales as the GPU's quantizers read them: channel c's scale at 2c and 1 / scale (an IEEE
// division, as the kernels' own 1 / in_scale) at 2c + 1, so that the tensor-core conv reads both at once.
std::vector<float> channel_quant_pairs(const std::vector<float>& scales);
// Whether the tensor-core conv quantizes by these pairs: each scale one element_math.h clamped_quantizer_takes.
bool kernel_quantizes_by(const std::vector<float>& pairs);

}  // namespace resr::cuda
