#include "backends/cuda/conv_weight_prep.h"

#include <algorithm>
#include <cmath>

#include "backends/cuda/element_math.h"
#include "core/half.h"
#include "ir/int8_weight.h"

namespace resr::cuda {
namespace {

int round_up4(int c) {
  return (c + 3) / 4 * 4;
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

// `weights` is the node's own (`own`: f32_source may point to it) or a temporary.
void prepare_float(const ir::ConvParams& p, const std::vector<float>& weights, bool own, bool half, Layout layout,
                   HostConvWeights& h) {
  std::vector<float> transposed;  // NCHW filters are taken as they are, without a copy
  if (layout == Layout::kNhwc) transposed = nhwc_filter(weights, p);
  const std::vector<float>& w = layout == Layout::kNhwc ? transposed : weights;
  if (half) {
    h.values_f16.resize(w.size());
    std::transform(w.begin(), w.end(), h.values_f16.begin(), [](float v) { return float_to_half(v); });
  } else if (layout == Layout::kNhwc) {
    h.values_f32 = std::move(transposed);
  } else if (own) {
    h.f32_source = &weights;
  } else {
    h.values_f32 = weights;
  }
}

void prepare_int8(const ir::Node& n, HostConvWeights& h) {
  const ir::ConvParams& p = n.conv;
  h.ic4 = round_up4(p.in_channels);
  h.oc4 = round_up4(p.out_channels);
  const std::size_t taps = std::size_t(p.kernel_h) * p.kernel_w;
  h.s8.assign(std::size_t(h.oc4) * taps * h.ic4, 0);
  h.dequant.assign(std::size_t(h.oc4), 0.0f);
  h.channel_quant = channel_quant_pairs(ir::input_channel_scales(n.quant));
  const std::vector<std::int8_t> codes = ir::int8_weight_codes(n);  // per-channel input scales folded in
  for (int o = 0; o < p.out_channels; ++o) {
    h.dequant[std::size_t(o)] = n.quant.in_scale * n.quant.weight_scales[std::size_t(o)];
    for (int i = 0; i < p.in_channels; ++i)
      for (std::size_t t = 0; t < taps; ++t)
        h.s8[(std::size_t(o) * taps + t) * h.ic4 + i] = codes[(std::size_t(o) * p.in_channels + i) * taps + t];
  }
}

}  // namespace

std::vector<float> channel_quant_pairs(const std::vector<float>& scales) {
  std::vector<float> pairs(2 * scales.size());
  for (std::size_t c = 0; c < scales.size(); ++c) {
    pairs[2 * c] = scales[c];
    pairs[2 * c + 1] = 1.0f / scales[c];
  }
  return pairs;
}

bool kernel_quantizes_by(const std::vector<float>& pairs) {
  for (std::size_t c = 0; c + 1 < pairs.size(); c += 2)
    if (!clamped_quantizer_takes(pairs[c])) return false;
  return true;
}

HostConvWeights prepare_conv_weights(const passes::Step& s, bool half, Layout layout) {
  const ir::Node& n = *s.node;
  HostConvWeights h;
  if (n.quant.precision == ir::Precision::kInt8) {
    prepare_int8(n, h);
  } else if (n.quant.precision == ir::Precision::kFp8) {
    h.dequant.resize(std::size_t(n.conv.out_channels));
    for (std::size_t o = 0; o < h.dequant.size(); ++o) h.dequant[o] = n.quant.in_scale * n.quant.weight_scales[o];
    h.e4m3 = nhwc_filter(ir::fp8_weight_codes(n), n.conv);
    prepare_float(n.conv, ir::fp8_weight_values(n), false, half, layout, h);
  } else {
    prepare_float(n.conv, n.weights, true, half, layout, h);
  }
  return h;
}

}  // namespace resr::cuda
