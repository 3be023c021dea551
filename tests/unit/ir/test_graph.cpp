// ir::verify and ir::infer_shapes on hand-built graphs.
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "ir/int8_weight.h"

namespace resr::ir {
namespace {

Node make_node(Op op, const char* name, std::vector<int> inputs, int output) {
  Node n;
  n.op = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.output = output;
  return n;
}

Graph input_conv_shuffle(int conv_out) {
  Graph g;
  g.input = g.add_value("in", 3);
  g.nodes.push_back(make_node(Op::kInput, "in", {}, g.input));
  g.values[g.input].producer = 0;
  Node conv = make_node(Op::kConv2d, "conv", {g.input}, g.add_value("c", conv_out));
  conv.conv.in_channels = 3;
  conv.conv.out_channels = conv_out;
  conv.weights.assign(std::size_t(conv_out) * 3 * 9, 0.0f);
  g.values[conv.output].producer = 1;
  g.nodes.push_back(conv);
  Node shuffle = make_node(Op::kPixelShuffle, "ps", {conv.output}, g.add_value("out", conv_out / 4));
  shuffle.factor = 2;
  g.values[shuffle.output].producer = 2;
  g.nodes.push_back(shuffle);
  g.output = shuffle.output;
  return g;
}

TEST(Graph, VerifiesAndInfersShapes) {
  Graph g = input_conv_shuffle(12);
  ASSERT_TRUE(verify(g).ok()) << verify(g).message();
  auto shapes = infer_shapes(g, 5, 7);
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ((*shapes)[g.output], (Shape{3, 10, 14}));
  EXPECT_EQ(g.use_counts()[g.input], 1);
  EXPECT_EQ(g.last_uses()[g.output], 3);
}

TEST(Graph, RejectsInconsistentChannelsAndWeights) {
  Graph g = input_conv_shuffle(12);
  g.nodes[1].weights.pop_back();
  EXPECT_NE(verify(g).message().find("expected 324 weights"), std::string::npos) << verify(g).message();
  g = input_conv_shuffle(12);
  g.nodes[1].conv.in_channels = 4;
  EXPECT_NE(verify(g).message().find("input channels"), std::string::npos);
  g = input_conv_shuffle(12);
  g.nodes[2].factor = 3;
  EXPECT_NE(verify(g).message().find("cannot be shuffled"), std::string::npos);
}

// Per-channel input scales: symmetric INT8 only, one positive factor per input channel, a finite channel scale;
// the folded weights and codes follow them.
TEST(Graph, PerChannelInputScalesAreChecked) {
  Graph g = input_conv_shuffle(12);
  Node& conv = g.nodes[1];
  for (std::size_t k = 0; k < conv.weights.size(); ++k) conv.weights[k] = 0.01f * float(k % 17) - 0.08f;
  conv.quant.precision = Precision::kInt8;
  conv.quant.in_scale = 0.01f;
  conv.quant.weight_scales.assign(12, 0.002f);
  conv.quant.in_channel_scales = {1.0f, 0.5f, 2.0f};
  ASSERT_TRUE(verify(g).ok()) << verify(g).message();
  EXPECT_EQ(input_channel_scale(conv.quant, 2), 0.01f * 2.0f);
  const std::vector<float> folded = folded_int8_weights(conv);
  const std::vector<std::int8_t> codes = int8_weight_codes(conv);
  for (std::size_t k = 0; k < folded.size(); ++k) {
    EXPECT_EQ(folded[k], conv.weights[k] * conv.quant.in_channel_scales[(k / 9) % 3]);
    EXPECT_EQ(codes[k], quantize_weight(folded[k], 0.002f));
  }
  auto rejects = [](const Graph& h, const char* what) {
    EXPECT_NE(verify(h).message().find(what), std::string::npos) << verify(h).message();
  };
  Graph h = g;
  h.nodes[1].quant.in_channel_scales.pop_back();
  rejects(h, "one input channel scale per input channel");
  h = g;
  h.nodes[1].quant.in_channel_scales[1] = 0.0f;
  rejects(h, "channel scales must be positive");
  h = g;
  h.nodes[1].quant.in_channel_scales[1] = 3e38f;  // in_scale x 3e38 x 127 overflows
  rejects(h, "channel scales must be positive");
  h = g;
  h.nodes[1].quant.asymmetric = true;
  rejects(h, "symmetric INT8 only");
  h = g;
  h.nodes[1].quant.precision = Precision::kFp8;
  rejects(h, "symmetric INT8 only");
  h = g;
  h.nodes[1].quant = ConvQuant{};
  h.nodes[1].quant.in_channel_scales = {1.0f, 1.0f, 1.0f};
  rejects(h, "has INT8 scales");
}

TEST(Graph, ShapeInferenceRejectsTooSmallInputs) {
  Graph g = input_conv_shuffle(12);
  g.nodes[1].conv.pad = 0;
  EXPECT_FALSE(infer_shapes(g, 2, 2).ok());
  EXPECT_TRUE(infer_shapes(g, 3, 3).ok());
}

TEST(Graph, ShapeInferenceRefusesSizesThatWouldOverflow) {
  Graph g;
  g.input = g.add_value("in", 3);
  Node in = make_node(Op::kInput, "in", {}, g.input);
  g.values[g.input].producer = 0;
  g.nodes.push_back(in);
  int v = g.input;
  for (int i = 0; i < 10; ++i) {  // 16^10: far past int
    const std::string name = "up" + std::to_string(i);
    Node up = make_node(Op::kUpsampleNearest, name.c_str(), {v}, g.add_value(name, 3));
    up.factor = 16;
    g.values[up.output].producer = static_cast<int>(g.nodes.size());
    v = up.output;
    g.nodes.push_back(up);
  }
  g.output = v;
  ASSERT_TRUE(verify(g).ok()) << verify(g).message();
  auto shapes = infer_shapes(g, 4, 4);
  ASSERT_FALSE(shapes.ok());
  EXPECT_NE(shapes.status().message().find("per side"), std::string::npos) << shapes.status().message();
}

}  // namespace
}  // namespace resr::ir
