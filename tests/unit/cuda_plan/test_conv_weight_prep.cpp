// The CUDA backend's conv weights as made on the host (backends/cuda/conv_weight_prep.h), checked without a GPU:
// NHWC filters are the NCHW ones transposed per output channel, binary16 rounds as core/half.h does, INT8
// quantizes as the CPU reference does (round half to even, clamp to +-127) into channels padded to multiples of
// 4 with zeros, and FP8 gives its codes and their values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "backends/cuda/conv_weight_prep.h"
#include "core/half.h"
#include "ir/int8_weight.h"
#include "passes/fused_steps.h"

namespace resr::cuda {
namespace {

// A 3x3 conv of `ic` -> `oc` channels with distinct weights (w[o][i][t] = (o * 100 + i * 10 + t) / 64).
ir::Node conv_node(int ic, int oc) {
  ir::Node n;
  n.op = ir::Op::kConv2d;
  n.name = "conv";
  n.conv.in_channels = ic;
  n.conv.out_channels = oc;
  for (int o = 0; o < oc; ++o)
    for (int i = 0; i < ic; ++i)
      for (int t = 0; t < 9; ++t) n.weights.push_back(float(o * 100 + i * 10 + t) / 64.0f);
  return n;
}

passes::Step conv_step(const ir::Node& n) {
  passes::Step s;
  s.kind = passes::StepKind::kConv;
  s.node = &n;
  return s;
}

float w_at(const ir::Node& n, int o, int i, int t) {
  return n.weights[(std::size_t(o) * n.conv.in_channels + i) * 9 + t];
}

TEST(ConvWeightPrep, FloatFiltersInBothLayoutsAndPrecisions) {
  const ir::Node n = conv_node(5, 3);
  const HostConvWeights nchw32 = prepare_conv_weights(conv_step(n), false, Layout::kNchw);
  EXPECT_EQ(nchw32.f32_source, &n.weights);  // taken as they are, not copied
  EXPECT_EQ(nchw32.f32(), n.weights);
  EXPECT_TRUE(nchw32.values_f16.empty());
  const HostConvWeights nhwc16 = prepare_conv_weights(conv_step(n), true, Layout::kNhwc);
  ASSERT_EQ(nhwc16.values_f16.size(), n.weights.size());
  EXPECT_TRUE(nhwc16.values_f32.empty());
  const HostConvWeights nhwc32 = prepare_conv_weights(conv_step(n), false, Layout::kNhwc);
  ASSERT_EQ(nhwc32.f32().size(), n.weights.size());
  for (int o = 0; o < 3; ++o)
    for (int t = 0; t < 9; ++t)
      for (int i = 0; i < 5; ++i) {
        const std::size_t at = (std::size_t(o) * 9 + t) * 5 + i;  // [oc][kh][kw][ic]
        EXPECT_EQ(nhwc32.f32()[at], w_at(n, o, i, t)) << o << " " << t << " " << i;
        EXPECT_EQ(nhwc16.values_f16[at], float_to_half(w_at(n, o, i, t)));
      }
}

TEST(ConvWeightPrep, Int8RoundsHalfToEvenClampsAndPadsChannels) {
  ir::Node n = conv_node(5, 3);
  n.quant.precision = ir::Precision::kInt8;
  n.quant.in_scale = 0.5f;
  n.quant.weight_scales = {1.0f, 0.25f, 2.0f};
  n.weights[0] = 2.5f;                     // o 0: 2.5 -> 2 (half to even)
  n.weights[1] = -3.5f;                    // -3.5 -> -4
  n.weights[2] = 300.0f;                   // clamped to 127
  n.weights[3] = -300.0f;                  // clamped to -127
  n.weights[std::size_t(5 * 9)] = 0.375f;  // o 1, i 0, t 0: 0.375 / 0.25 = 1.5 -> 2
  const HostConvWeights h = prepare_conv_weights(conv_step(n), true, Layout::kNchw);  // INT8 ignores both
  EXPECT_EQ(h.ic4, 8);
  EXPECT_EQ(h.oc4, 4);
  ASSERT_EQ(h.s8.size(), std::size_t(4 * 9 * 8));
  ASSERT_EQ(h.dequant.size(), 4u);
  auto q = [&](int o, int t, int i) { return h.s8[(std::size_t(o) * 9 + t) * 8 + i]; };  // [oc4][kh][kw][ic4]
  EXPECT_EQ(q(0, 0, 0), 2);
  EXPECT_EQ(q(0, 1, 0), -4);
  EXPECT_EQ(q(0, 2, 0), 127);
  EXPECT_EQ(q(0, 3, 0), -127);
  EXPECT_EQ(q(1, 0, 0), 2);
  for (int o = 0; o < 3; ++o) {
    EXPECT_FLOAT_EQ(h.dequant[std::size_t(o)], 0.5f * n.quant.weight_scales[std::size_t(o)]);
    for (int t = 4; t < 9; ++t)
      for (int i = 1; i < 5; ++i)
        EXPECT_EQ(q(o, t, i),
                  std::int8_t(std::nearbyint(std::fmin(
                      127.0f, std::fmax(-127.0f, w_at(n, o, i, t) / n.quant.weight_scales[std::size_t(o)])))));
  }
  for (int t = 0; t < 9; ++t)
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(q(3, t, i), 0) << "padded output channel";
      if (i >= 5) {
        EXPECT_EQ(q(0, t, i), 0) << "padded input channel";
      }
    }
  EXPECT_EQ(h.dequant[3], 0.0f);
}

// Per-channel input scales: the weights folded (w * f_c) before rounding, the channels' scales for the quantizing
// pass, dequantization still in_scale x weight scale.
TEST(ConvWeightPrep, Int8FoldsPerChannelInputScales) {
  ir::Node n = conv_node(5, 3);
  n.quant.precision = ir::Precision::kInt8;
  n.quant.in_scale = 0.5f;
  n.quant.weight_scales = {0.01f, 0.02f, 0.03f};
  n.quant.in_channel_scales = {1.0f, 0.5f, 2.0f, 0.25f, 3.0f};
  const HostConvWeights h = prepare_conv_weights(conv_step(n), true, Layout::kNhwc);
  ASSERT_EQ(h.channel_quant.size(), 10u);
  for (int i = 0; i < 5; ++i) {
    const float scale = 0.5f * n.quant.in_channel_scales[std::size_t(i)];
    EXPECT_EQ(h.channel_quant[2 * std::size_t(i)], scale);
    EXPECT_EQ(h.channel_quant[2 * std::size_t(i) + 1], 1.0f / scale);
  }
  EXPECT_TRUE(kernel_quantizes_by(h.channel_quant));
  for (int o = 0; o < 3; ++o) {
    EXPECT_FLOAT_EQ(h.dequant[std::size_t(o)], 0.5f * n.quant.weight_scales[std::size_t(o)]);
    for (int t = 0; t < 9; ++t)
      for (int i = 0; i < 5; ++i)
        EXPECT_EQ(h.s8[(std::size_t(o) * 9 + t) * 8 + i],
                  ir::quantize_weight(w_at(n, o, i, t) * n.quant.in_channel_scales[std::size_t(i)],
                                      n.quant.weight_scales[std::size_t(o)]));
  }
  n.quant.in_channel_scales.clear();
  EXPECT_TRUE(prepare_conv_weights(conv_step(n), true, Layout::kNhwc).channel_quant.empty());
}

// The tensor-core conv quantizes by a channel's scale only where 1 / scale and 127 x scale are finite (its clamp
// and quotient: element_math.h quantize_symmetric_clamped); the executor keeps other convs on cuDNN.
TEST(ConvWeightPrep, KernelQuantizesOnlyByScalesWithFiniteLimits) {
  EXPECT_TRUE(kernel_quantizes_by({}));
  EXPECT_TRUE(kernel_quantizes_by(channel_quant_pairs({0.02f, 1e-30f, 1e30f})));
  EXPECT_FALSE(kernel_quantizes_by(channel_quant_pairs({0.02f, 1e-39f})));  // subnormal: 1 / scale overflows
  EXPECT_FALSE(kernel_quantizes_by(channel_quant_pairs({0.02f, 3e36f})));   // 127 x scale overflows
  EXPECT_FALSE(kernel_quantizes_by(channel_quant_pairs({0.0f})));
  EXPECT_FALSE(kernel_quantizes_by(channel_quant_pairs({-0.5f})));
  EXPECT_FALSE(kernel_quantizes_by(channel_quant_pairs({std::numeric_limits<float>::quiet_NaN()})));
}

TEST(ConvWeightPrep, Fp8GivesNhwcCodesAndTheirValues) {
  ir::Node n = conv_node(4, 2);
  n.quant.precision = ir::Precision::kFp8;
  n.quant.in_scale = 0.25f;
  n.quant.weight_scales = {0.5f, 0.125f};
  const std::vector<std::uint8_t> codes = ir::fp8_weight_codes(n);
  const std::vector<float> values = ir::fp8_weight_values(n);
  const HostConvWeights h = prepare_conv_weights(conv_step(n), false, Layout::kNchw);
  EXPECT_EQ(h.f32(), values);  // the legacy path's weights (a temporary's, so owned), in the activations' layout
  EXPECT_EQ(h.f32_source, nullptr);
  ASSERT_EQ(h.e4m3.size(), codes.size());
  for (int o = 0; o < 2; ++o)
    for (int t = 0; t < 9; ++t)
      for (int i = 0; i < 4; ++i)
        EXPECT_EQ(h.e4m3[(std::size_t(o) * 9 + t) * 4 + i], codes[(std::size_t(o) * 4 + i) * 9 + t]);
  ASSERT_EQ(h.dequant.size(), 2u);
  EXPECT_FLOAT_EQ(h.dequant[1], 0.25f * 0.125f);
}

}  // namespace
}  // namespace resr::cuda
