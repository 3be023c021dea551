// A conv's parameters on the device as cuDNN takes them: the weights in the activations' type and layout (NHWC
// filters are [oc][kh][kw][ic]) with their filter and convolution descriptors, or, for an INT8 conv (symmetric),
// int8 NHWC weights [oc4][kh][kw][ic4] (channels padded to multiples of 4 with zeros, as cuDNN's int8
// configuration needs) and the per-channel dequantization factors in_scale * weight_scale[oc]. An FP8 conv has
// both: E4M3 NHWC weights [oc][kh][kw][ic] with its dequantization factors for the fused FP8 graph, and its
// weights' FP8 values w^ in the activations' type for the legacy path (which then runs in that type, on an
// input not rounded to FP8). Bias and PReLU slopes stay fp32.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include "backends/cuda/conv_weight_prep.h"
#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/owned_descriptor.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

struct ConvWeights {
  DeviceBuffer w, bias, slopes;
  OwnedDescriptor<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor> filter;
  OwnedDescriptor<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor> desc;
  // The math type desc had at upload: an algorithm search starts from it (cuDNN weighs the kernels it allows);
  // each run sets its algorithm's own (AlgoChoice::math) on desc.
  cudnnMathType_t search_math = CUDNN_DEFAULT_MATH;
  bool int8 = false;
  bool fp8 = false;
  DeviceBuffer w_fp8;
  int ic4 = 0, oc4 = 0;
  float in_scale = 0.0f;
  DeviceBuffer dequant;
  // INT8 with per-channel input scales: fp32 [ic][2], each channel's scale and 1 / scale (channel_quant_pairs;
  // quantize_nhwc_s8 and the tensor-core conv read them), else empty
  DeviceBuffer channel_quant;
  bool kernel_quantizable = true;  // whether the tensor-core conv may quantize by them (kernel_quantizes_by)
};

// Uploads conv step `s` (an INT8 or FP8 conv when its node says so) from its host form `h`, made by
// prepare_conv_weights(s, dtype == DType::kF16, layout) (conv_weight_prep.h), copied on `stream` and waited for. fp32
// convs keep FMA math (TF32's 10-bit mantissa would break the fp32 accuracy); fp16 ones use tensor cores.
Result<ConvWeights> upload_conv_weights(const passes::Step& s, const HostConvWeights& h, DType dtype, Layout layout,
                                        cudaStream_t stream);

}  // namespace resr::cuda
