// resr's own conv kernel on the tensor cores (mma.sync; on compute capability 9.0 also Hopper's wgmma, the
// warpgroup form: tensor_conv_warpgroup.h, Cut::warpgroup), with the whole epilogue (bias, LeakyReLU or PReLU,
// output scale, residual sums) applied before the one store: a 3x3 conv of fp16 NHWC activations, input and
// output possibly channel slices of wider storages (dense concatenation without copies). Products in fp16 (fp32
// sums) or, for INT8 and FP8 convs, in int8 (int32 sums) or E4M3 (fp32 sums): the fp16 input quantized as it is
// loaded (per tensor, or for INT8 per input channel), the weights quantized per channel, the sums dequantized before
// the epilogue, the output fp16. The arithmetic and index maps are tensor_conv_math.h's.
//
// Where it is used (executor_tensor_convs.cpp, RESR_CUDA_TENSOR_CONV): =1, every conv it can run; =warpgroup, the same
// on the warpgroup form where the device has it; =auto, each conv for which it matched the step's cuDNN path on test
// data and ran faster (over every cut of both forms). It needs compute capability 8.0 or later (FP8: 8.9; the warpgroup
// form: 9.0 and sm_90a code), and a build with code for it.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <vector>

#include "backends/cuda/kernels.h"
#include "backends/cuda/tensor_conv_math.h"
#include "core/status.h"

namespace resr::cuda {

struct TensorConvArgs {
  Planes x;               // fp16 NHWC ([c, h, w], cs == 1): x.c input channels
  const void* w;          // fp16, int8 or E4M3 [oc][3][3][x.c] (conv_weight_prep.h's NHWC filter)
  Planes y;               // fp16 NHWC, y.c output channels, the same height and width as x
  EpilogueArgs epilogue;  // residuals fp16 NHWC of y's shape
  tensor_conv::Products products = tensor_conv::Products::kFp16;
  // int8 or FP8: the input's quantization scale, and per output channel in_scale x weight scale (device memory)
  float in_scale = 0.0f;
  const float* dequant = nullptr;
  // int8 with per-channel input scales (ir::ConvQuant::in_channel_scales; the weights folded): per input channel
  // its scale and 1 / scale (device memory, x.c pairs, 16-byte aligned: channel_quant_pairs; their count, and
  // that each pair passes kernel_quantizes_by, are the caller's to get right: the refusal cannot read them),
  // quantizing the input in place of in_scale (whose dequantization factors already hold the folded weights'
  // scales). Ignored with codes_in.
  const float* in_channel_quant = nullptr;
  // Hand-overs between two 8-bit convs (executor_tensor_convs.cpp), which spare the reader its quantizing pass and
  // halve the bytes between them. codes_in: x holds the input's codes already (int8 or E4M3 as `products`, quantized
  // with in_scale; x.s.ps bytes a pixel), not fp16. codes_out_scale > 0: y is written as the next conv's codes of the
  // same type, each value quantized with that scale (int8: element_math.h quantize_symmetric; E4M3: value / scale,
  // nearest even, saturating, as int8_epilogue and the FP8 quantizing kernel do; y.s.ps bytes a pixel).
  // codes_out_channel_quant: with codes_out_scale > 0, int8 codes by the next reader's per-channel scales instead,
  // for output channel c its scale and 1 / scale at 2c, 2c + 1 (device memory, y.c pairs, 16-byte aligned; the
  // caller's count and kernel_quantizes_by, as in_channel_quant's).
  bool codes_in = false;
  float codes_out_scale = 0.0f;
  const float* codes_out_channel_quant = nullptr;
};

// Why the kernel cannot run this conv (3x3, stride 1, padding 1, dilation 1 given in `kernel`, ...) on the
// current device, or empty: the conv's form, the tensors' layout or alignment (16-byte input vectors, 4-byte
// output pairs; 2-byte pairs of codes), codes with fp16 products, the shared memory it needs, or the device's
// compute capability; per-channel scales (in or out) with other than int8 products, or not 16-byte aligned.
struct TensorConvForm {
  int kernel_h = 3, kernel_w = 3, stride = 1, pad = 1, dilation = 1;
};
std::string tensor_conv_refusal(const TensorConvArgs& a, const TensorConvForm& form);

// A kernel of either form: tensor_conv.cu's (mma.sync) or tensor_conv_warpgroup.cu's (wgmma).
using TensorConvKernel = void (*)(TensorConvArgs, tensor_conv::Cut);

// How it launches for a conv of this shape on the current device: prepared once (it sets the kernel's shared
// memory limit, which is not done while a stream captures a CUDA graph), after tensor_conv_refusal said nothing.
struct TensorConvLaunch {
  TensorConvKernel kernel = nullptr;
  unsigned blocks = 0;     // persistent blocks, each taking tiles in turn
  std::size_t shared = 0;  // bytes of dynamic shared memory
  tensor_conv::Cut cut;
};
// With the cut given: one of tensor_conv_cuts, those that fit this device (the first being cut_for's).
Result<TensorConvLaunch> prepare_tensor_conv(const TensorConvArgs& a, tensor_conv::Cut cut);
std::vector<tensor_conv::Cut> tensor_conv_cuts(const TensorConvArgs& a);
// Launches it on `stream`. Error: the launch failed.
Status launch_tensor_conv(const TensorConvLaunch& l, const TensorConvArgs& a, cudaStream_t stream);

}  // namespace resr::cuda
