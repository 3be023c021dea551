// A conv's parameters on the device as cuDNN takes them: the weights in the activations' type and layout (NHWC
// filters are [oc][kh][kw][ic]) with their filter and convolution descriptors, or, for an INT8 conv (symmetric),
// int8 NHWC weights [oc4][kh][kw][ic4] (channels padded to multiples of 4 with zeros, as cuDNN's int8
// configuration needs) and the per-channel dequantization factors in_scale * weight_scale[oc]. Bias and PReLU
// slopes stay fp32.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <utility>

#include "backends/cuda/cuda_status.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/kernels.h"
#include "passes/fused_steps.h"

namespace resr::cuda {

struct ConvWeights {
  DeviceBuffer w, bias, slopes;
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t desc = nullptr;
  bool int8 = false;
  int ic4 = 0, oc4 = 0;
  float in_scale = 0.0f;
  DeviceBuffer dequant;

  ConvWeights() = default;
  ConvWeights(const ConvWeights&) = delete;
  ConvWeights& operator=(const ConvWeights&) = delete;
  ConvWeights(ConvWeights&& o) noexcept { *this = std::move(o); }
  ConvWeights& operator=(ConvWeights&& o) noexcept {
    std::swap(w, o.w);
    std::swap(bias, o.bias);
    std::swap(slopes, o.slopes);
    std::swap(filter, o.filter);
    std::swap(desc, o.desc);
    std::swap(int8, o.int8);
    std::swap(ic4, o.ic4);
    std::swap(oc4, o.oc4);
    std::swap(in_scale, o.in_scale);
    std::swap(dequant, o.dequant);
    return *this;
  }
  ~ConvWeights();
};

// Uploads conv step `s` (an INT8 conv when its node says so), converting on `stream` (synchronised before the
// return). fp32 convs keep FMA math (TF32's 10-bit mantissa would break the fp32 accuracy); fp16 ones use tensor
// cores.
Result<ConvWeights> upload_conv_weights(const passes::Step& s, DType dtype, Layout layout, cudaStream_t stream);

}  // namespace resr::cuda
