#include "backends/ref/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/fp8.h"
#include "ir/int8_weight.h"

namespace resr::ref {

namespace {

// The loop nest of both reference convolutions: out(oc, y, x) = activation(finish(oc, acc)), where acc starts at
// init(oc) and adds tap(weight index, ic, iy, ix) for every tap inside the input (zero padding).
template <class Init, class Tap, class Finish>
Tensor conv2d_nest(int in_h, int in_w, const ir::ConvParams& p, Init init, Tap tap, Finish finish) {
  const int eh = (p.kernel_h - 1) * p.dilation + 1, ew = (p.kernel_w - 1) * p.dilation + 1;
  const int oh = (in_h + 2 * p.pad - eh) / p.stride + 1, ow = (in_w + 2 * p.pad - ew) / p.stride + 1;
  Tensor out(p.out_channels, oh, ow);
  for (int oc = 0; oc < p.out_channels; ++oc) {
    for (int y = 0; y < oh; ++y) {
      for (int x = 0; x < ow; ++x) {
        auto acc = init(oc);
        for (int ic = 0; ic < p.in_channels; ++ic) {
          for (int ky = 0; ky < p.kernel_h; ++ky) {
            const int iy = y * p.stride - p.pad + ky * p.dilation;
            if (iy < 0 || iy >= in_h) continue;
            for (int kx = 0; kx < p.kernel_w; ++kx) {
              const int ix = x * p.stride - p.pad + kx * p.dilation;
              if (ix < 0 || ix >= in_w) continue;
              acc += tap(((std::size_t(oc) * p.in_channels + ic) * p.kernel_h + ky) * p.kernel_w + kx, ic, iy, ix);
            }
          }
        }
        float v = finish(oc, acc);
        if (p.activation == ir::Activation::kRelu && v < 0) v = 0;
        if (p.activation == ir::Activation::kLeakyRelu && v < 0) v *= p.activation_slope;
        out.at(oc, y, x) = v;
      }
    }
  }
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& in, const ir::ConvParams& p, std::span<const float> weights, std::span<const float> bias) {
  return conv2d_nest(
      in.h(), in.w(), p, [&](int oc) { return bias.empty() ? 0.0 : double(bias[oc]); },
      [&](std::size_t wi, int ic, int iy, int ix) { return double(weights[wi]) * in.at(ic, iy, ix); },
      [](int, double acc) { return static_cast<float>(acc); });
}

Tensor conv2d_int8(const Tensor& in, const ir::ConvParams& p, const ir::ConvQuant& q, std::span<const float> weights,
                   std::span<const float> bias) {
  const int qmin = q.asymmetric ? 0 : -127, qmax = q.asymmetric ? 255 : 127;
  const int zero = q.asymmetric ? q.in_zero : 0;
  std::vector<int> qx(in.numel());
  const std::size_t plane = std::size_t(in.h()) * std::size_t(in.w());
  for (std::size_t k = 0; k < qx.size(); ++k) {
    float v = std::nearbyint(in.data()[k] / ir::input_channel_scale(q, int(k / plane))) + float(zero);
    v = std::isnan(v) ? float(qmin) : std::clamp(v, float(qmin), float(qmax));
    qx[k] = static_cast<int>(v) - zero;  // q - in_zero
  }
  const std::vector<std::int8_t> qw = ir::int8_weight_codes(p, q, weights);  // per-channel factors folded in
  return conv2d_nest(
      in.h(), in.w(), p, [](int) { return std::int64_t{0}; },
      [&](std::size_t wi, int ic, int iy, int ix) {
        return std::int64_t(qw[wi]) * qx[(std::size_t(ic) * in.h() + iy) * in.w() + ix];
      },
      [&](int oc, std::int64_t acc) {
        const double s = double(acc) * double(q.in_scale) * double(q.weight_scales[oc]);
        return static_cast<float>(s + (bias.empty() ? 0.0 : double(bias[oc])));
      });
}

Tensor conv2d_fp8(const Tensor& in, const ir::ConvParams& p, const ir::ConvQuant& q, std::span<const float> weights,
                  std::span<const float> bias) {
  std::vector<float> qx(in.numel());
  for (std::size_t k = 0; k < qx.size(); ++k) qx[k] = round_to_e4m3(in.data()[k] / q.in_scale);
  std::vector<float> qw(weights.size());
  const std::size_t per_oc = weights.size() / p.out_channels;
  for (std::size_t k = 0; k < qw.size(); ++k) qw[k] = round_to_e4m3(weights[k] / q.weight_scales[k / per_oc]);
  return conv2d_nest(
      in.h(), in.w(), p, [](int) { return 0.0; },
      [&](std::size_t wi, int ic, int iy, int ix) {
        return double(qw[wi]) * double(qx[(std::size_t(ic) * in.h() + iy) * in.w() + ix]);
      },
      [&](int oc, double acc) {
        const double s = acc * double(q.in_scale) * double(q.weight_scales[oc]);
        return static_cast<float>(s + (bias.empty() ? 0.0 : double(bias[oc])));
      });
}

Tensor prelu(const Tensor& in, std::span<const float> slopes) {
  Tensor out(in.shape());
  for (int c = 0; c < in.c(); ++c) {
    const float slope = slopes.size() == 1 ? slopes[0] : slopes[c];
    for (int y = 0; y < in.h(); ++y)
      for (int x = 0; x < in.w(); ++x) {
        const float v = in.at(c, y, x);
        out.at(c, y, x) = v >= 0 ? v : slope * v;
      }
  }
  return out;
}

Tensor concat(std::span<const Tensor* const> inputs) {
  int channels = 0;
  for (const Tensor* t : inputs) channels += t->c();
  Tensor out(channels, inputs[0]->h(), inputs[0]->w());
  int oc = 0;
  for (const Tensor* t : inputs)
    for (int c = 0; c < t->c(); ++c, ++oc)
      for (int y = 0; y < t->h(); ++y)
        for (int x = 0; x < t->w(); ++x) out.at(oc, y, x) = t->at(c, y, x);
  return out;
}

Tensor weighted_sum(std::span<const Tensor* const> inputs, std::span<const float> coeffs) {
  Tensor out(inputs[0]->shape());
  for (int c = 0; c < out.c(); ++c)
    for (int y = 0; y < out.h(); ++y)
      for (int x = 0; x < out.w(); ++x) {
        float acc = 0;
        for (std::size_t i = 0; i < inputs.size(); ++i) acc += coeffs[i] * inputs[i]->at(c, y, x);
        out.at(c, y, x) = acc;
      }
  return out;
}

Tensor upsample_nearest(const Tensor& in, int factor) {
  Tensor out(in.c(), in.h() * factor, in.w() * factor);
  for (int c = 0; c < out.c(); ++c)
    for (int y = 0; y < out.h(); ++y)
      for (int x = 0; x < out.w(); ++x) out.at(c, y, x) = in.at(c, y / factor, x / factor);
  return out;
}

Tensor pixel_shuffle(const Tensor& in, int r) {
  Tensor out(in.c() / (r * r), in.h() * r, in.w() * r);
  for (int c = 0; c < out.c(); ++c)
    for (int y = 0; y < in.h(); ++y)
      for (int x = 0; x < in.w(); ++x)
        for (int i = 0; i < r; ++i)
          for (int j = 0; j < r; ++j) out.at(c, y * r + i, x * r + j) = in.at(c * r * r + i * r + j, y, x);
  return out;
}

Tensor pixel_unshuffle(const Tensor& in, int r) {
  Tensor out(in.c() * r * r, in.h() / r, in.w() / r);
  for (int c = 0; c < in.c(); ++c)
    for (int i = 0; i < r; ++i)
      for (int j = 0; j < r; ++j)
        for (int y = 0; y < out.h(); ++y)
          for (int x = 0; x < out.w(); ++x) out.at(c * r * r + i * r + j, y, x) = in.at(c, y * r + i, x * r + j);
  return out;
}

}  // namespace resr::ref
