#include "backends/cuda/conv_weights.h"

#include <cstdint>
#include <vector>

namespace resr::cuda {
namespace {

Status upload_epilogue_parameters(const passes::Step& s, ConvWeights& c, cudaStream_t stream) {
  const ir::Node& n = *s.node;
  if (!n.bias.empty()) RESR_RETURN_IF_ERROR(c.bias.upload(n.bias.data(), n.bias.size() * sizeof(float), stream));
  if (s.epilogue.prelu != nullptr) {
    const std::vector<float>& sl = s.epilogue.prelu->slopes;
    RESR_RETURN_IF_ERROR(c.slopes.upload(sl.data(), sl.size() * sizeof(float), stream));
  }
  return ok_status();
}

Status upload_float_conv(const passes::Step& s, const HostConvWeights& h, DType dtype, Layout layout, ConvWeights& c,
                         cudaStream_t stream) {
  const ir::ConvParams& p = s.node->conv;
  const bool half = dtype == DType::kF16;
  if (half) {
    RESR_RETURN_IF_ERROR(c.w.upload(h.values_f16.data(), h.values_f16.size() * sizeof(std::uint16_t), stream));
  } else {
    RESR_RETURN_IF_ERROR(c.w.upload(h.f32().data(), h.f32().size() * sizeof(float), stream));
  }
  RESR_RETURN_IF_ERROR(upload_epilogue_parameters(s, c, stream));
  RESR_CUDNN(cudnnCreateFilterDescriptor(c.filter.put()));
  RESR_CUDNN(cudnnSetFilter4dDescriptor(c.filter.get(), half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT,
                                        layout == Layout::kNhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, p.out_channels,
                                        p.in_channels, p.kernel_h, p.kernel_w));
  RESR_CUDNN(cudnnCreateConvolutionDescriptor(c.desc.put()));
  RESR_CUDNN(cudnnSetConvolution2dDescriptor(c.desc.get(), p.pad, p.pad, p.stride, p.stride, p.dilation, p.dilation,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  c.search_math = half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  RESR_CUDNN(cudnnSetConvolutionMathType(c.desc.get(), c.search_math));
  return ok_status();
}

Status upload_int8_conv(const passes::Step& s, const HostConvWeights& h, ConvWeights& c, cudaStream_t stream) {
  const ir::Node& n = *s.node;
  const ir::ConvParams& p = n.conv;
  c.int8 = true;
  c.ic4 = h.ic4;
  c.oc4 = h.oc4;
  c.in_scale = n.quant.in_scale;
  RESR_RETURN_IF_ERROR(c.w.upload(h.s8.data(), h.s8.size(), stream));
  RESR_RETURN_IF_ERROR(c.dequant.upload(h.dequant.data(), h.dequant.size() * sizeof(float), stream));
  c.kernel_quantizable = kernel_quantizes_by(h.channel_quant);
  if (!h.channel_quant.empty())
    RESR_RETURN_IF_ERROR(
        c.channel_quant.upload(h.channel_quant.data(), h.channel_quant.size() * sizeof(float), stream));
  RESR_RETURN_IF_ERROR(upload_epilogue_parameters(s, c, stream));
  RESR_CUDNN(cudnnCreateFilterDescriptor(c.filter.put()));
  RESR_CUDNN(cudnnSetFilter4dDescriptor(c.filter.get(), CUDNN_DATA_INT8, CUDNN_TENSOR_NHWC, c.oc4, c.ic4, p.kernel_h,
                                        p.kernel_w));
  RESR_CUDNN(cudnnCreateConvolutionDescriptor(c.desc.put()));
  RESR_CUDNN(cudnnSetConvolution2dDescriptor(c.desc.get(), p.pad, p.pad, p.stride, p.stride, p.dilation, p.dilation,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_INT32));
  return ok_status();
}

Status upload_fp8_conv(const passes::Step& s, const HostConvWeights& h, DType dtype, Layout layout, ConvWeights& c,
                       cudaStream_t stream) {
  c.fp8 = true;
  c.in_scale = s.node->quant.in_scale;
  RESR_RETURN_IF_ERROR(c.w_fp8.upload(h.e4m3.data(), h.e4m3.size(), stream));
  RESR_RETURN_IF_ERROR(c.dequant.upload(h.dequant.data(), h.dequant.size() * sizeof(float), stream));
  return upload_float_conv(s, h, dtype, layout, c, stream);
}

}  // namespace

Result<ConvWeights> upload_conv_weights(const passes::Step& s, const HostConvWeights& h, DType dtype, Layout layout,
                                        cudaStream_t stream) {
  ConvWeights c;
  if (s.node->quant.precision == ir::Precision::kInt8) {
    RESR_RETURN_IF_ERROR(upload_int8_conv(s, h, c, stream));
  } else if (s.node->quant.precision == ir::Precision::kFp8) {
    RESR_RETURN_IF_ERROR(upload_fp8_conv(s, h, dtype, layout, c, stream));
  } else {
    RESR_RETURN_IF_ERROR(upload_float_conv(s, h, dtype, layout, c, stream));
  }
  return c;
}

}  // namespace resr::cuda
