#include "backends/cuda/conv_weights.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/half.h"

namespace resr::cuda {
namespace {

int round_up4(int c) {
  return (c + 3) / 4 * 4;
}

Status upload_epilogue_parameters(const passes::Step& s, ConvWeights& c) {
  const ir::Node& n = *s.node;
  if (!n.bias.empty()) RESR_RETURN_IF_ERROR(c.bias.upload(n.bias.data(), n.bias.size() * sizeof(float)));
  if (s.epilogue.prelu != nullptr) {
    const std::vector<float>& sl = s.epilogue.prelu->slopes;
    RESR_RETURN_IF_ERROR(c.slopes.upload(sl.data(), sl.size() * sizeof(float)));
  }
  return ok_status();
}

// [oc][ic][kh*kw] weights as NHWC filters [oc][kh][kw][ic]: transposed per output channel.
template <class T>
std::vector<T> nhwc_filter(const std::vector<T>& w, const ir::ConvParams& p) {
  std::vector<T> out(w.size());
  const std::size_t taps = std::size_t(p.kernel_h) * p.kernel_w, per_oc = taps * p.in_channels;
  for (std::size_t o = 0; o < std::size_t(p.out_channels); ++o)
    for (std::size_t i = 0; i < std::size_t(p.in_channels); ++i)
      for (std::size_t t = 0; t < taps; ++t) out[o * per_oc + t * p.in_channels + i] = w[o * per_oc + i * taps + t];
  return out;
}

Status upload_float_conv(const passes::Step& s, const std::vector<float>& weights, DType dtype, Layout layout,
                         ConvWeights& c) {
  const ir::Node& n = *s.node;
  const ir::ConvParams& p = n.conv;
  const bool half = dtype == DType::kF16;
  std::vector<float> transposed;  // NCHW filters go as they are, without a copy
  if (layout == Layout::kNhwc) transposed = nhwc_filter(weights, p);
  const std::vector<float>& host = layout == Layout::kNhwc ? transposed : weights;
  // Rounded to binary16 here, not by a kernel: one copy per conv, and no staging buffer or synchronisation (a
  // model has hundreds of convs, and this is start-up time).
  if (half) {
    std::vector<std::uint16_t> bits(host.size());
    std::transform(host.begin(), host.end(), bits.begin(), [](float v) { return float_to_half(v); });
    RESR_RETURN_IF_ERROR(c.w.upload(bits.data(), bits.size() * sizeof(std::uint16_t)));
  } else {
    RESR_RETURN_IF_ERROR(c.w.upload(host.data(), host.size() * sizeof(float)));
  }
  RESR_RETURN_IF_ERROR(upload_epilogue_parameters(s, c));
  RESR_CUDNN(cudnnCreateFilterDescriptor(c.filter.put()));
  RESR_CUDNN(cudnnSetFilter4dDescriptor(c.filter.get(), half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT,
                                        layout == Layout::kNhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, p.out_channels,
                                        p.in_channels, p.kernel_h, p.kernel_w));
  RESR_CUDNN(cudnnCreateConvolutionDescriptor(c.desc.put()));
  RESR_CUDNN(cudnnSetConvolution2dDescriptor(c.desc.get(), p.pad, p.pad, p.stride, p.stride, p.dilation, p.dilation,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  RESR_CUDNN(cudnnSetConvolutionMathType(c.desc.get(), half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  return ok_status();
}

// int8 weights quantized as the reference kernel does (round half to even of w / scale, clamped to +-127).
Status upload_int8_conv(const passes::Step& s, ConvWeights& c) {
  const ir::Node& n = *s.node;
  const ir::ConvParams& p = n.conv;
  c.int8 = true;
  c.ic4 = round_up4(p.in_channels);
  c.oc4 = round_up4(p.out_channels);
  c.in_scale = n.quant.in_scale;
  const std::size_t taps = std::size_t(p.kernel_h) * p.kernel_w;
  std::vector<signed char> q(std::size_t(c.oc4) * taps * c.ic4, 0);
  std::vector<float> dequant(std::size_t(c.oc4), 0.0f);
  for (int o = 0; o < p.out_channels; ++o) {
    const float ws = n.quant.weight_scales[std::size_t(o)];
    dequant[std::size_t(o)] = n.quant.in_scale * ws;
    for (int i = 0; i < p.in_channels; ++i)
      for (std::size_t t = 0; t < taps; ++t) {
        const float w = n.weights[(std::size_t(o) * p.in_channels + i) * taps + t];
        const float v = std::clamp(std::nearbyint(w / ws), -127.0f, 127.0f);
        q[(std::size_t(o) * taps + t) * c.ic4 + i] = static_cast<signed char>(v);
      }
  }
  RESR_RETURN_IF_ERROR(c.w.upload(q.data(), q.size()));
  RESR_RETURN_IF_ERROR(c.dequant.upload(dequant.data(), dequant.size() * sizeof(float)));
  RESR_RETURN_IF_ERROR(upload_epilogue_parameters(s, c));
  RESR_CUDNN(cudnnCreateFilterDescriptor(c.filter.put()));
  RESR_CUDNN(cudnnSetFilter4dDescriptor(c.filter.get(), CUDNN_DATA_INT8, CUDNN_TENSOR_NHWC, c.oc4, c.ic4, p.kernel_h,
                                        p.kernel_w));
  RESR_CUDNN(cudnnCreateConvolutionDescriptor(c.desc.put()));
  RESR_CUDNN(cudnnSetConvolution2dDescriptor(c.desc.get(), p.pad, p.pad, p.stride, p.stride, p.dilation, p.dilation,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_INT32));
  return ok_status();
}

// E4M3 weights rounded as the CPU's emulation rounds them (ir::fp8_weight_codes), and their values w^ for the
// legacy path.
Status upload_fp8_conv(const passes::Step& s, DType dtype, Layout layout, ConvWeights& c) {
  const ir::Node& n = *s.node;
  const ir::ConvParams& p = n.conv;
  c.fp8 = true;
  c.in_scale = n.quant.in_scale;
  std::vector<float> dequant(std::size_t(p.out_channels));
  for (std::size_t o = 0; o < dequant.size(); ++o) dequant[o] = n.quant.in_scale * n.quant.weight_scales[o];
  const std::vector<std::uint8_t> nhwc = nhwc_filter(ir::fp8_weight_codes(n), p);
  RESR_RETURN_IF_ERROR(c.w_fp8.upload(nhwc.data(), nhwc.size()));
  RESR_RETURN_IF_ERROR(c.dequant.upload(dequant.data(), dequant.size() * sizeof(float)));
  return upload_float_conv(s, ir::fp8_weight_values(n), dtype, layout, c);
}

}  // namespace

Result<ConvWeights> upload_conv_weights(const passes::Step& s, DType dtype, Layout layout) {
  ConvWeights c;
  if (s.node->quant.precision == ir::Precision::kInt8) {
    RESR_RETURN_IF_ERROR(upload_int8_conv(s, c));
  } else if (s.node->quant.precision == ir::Precision::kFp8) {
    RESR_RETURN_IF_ERROR(upload_fp8_conv(s, dtype, layout, c));
  } else {
    RESR_RETURN_IF_ERROR(upload_float_conv(s, s.node->weights, dtype, layout, c));
  }
  return c;
}

}  // namespace resr::cuda
