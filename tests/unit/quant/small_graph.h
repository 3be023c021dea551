// A small hand-built graph for the quantization tests: in(3) -> conv1 (3->4, LeakyReLU) -> act -> conv2
// (4->2) -> out, with distinct deterministic weights.
#pragma once

#include "ir/graph.h"

namespace resr::quant::test {

inline ir::Node make_conv(const char* name, int in, int out, int ic, int oc, float base) {
  ir::Node n;
  n.op = ir::Op::kConv2d;
  n.name = name;
  n.inputs = {in};
  n.output = out;
  n.conv.in_channels = ic;
  n.conv.out_channels = oc;
  n.weights.resize(std::size_t(oc) * ic * 9);
  for (std::size_t i = 0; i < n.weights.size(); ++i) n.weights[i] = base * float(int(i % 7) - 3) / float(1 + i % 5);
  n.bias.assign(oc, 0.125f);
  return n;
}

inline ir::Graph small_graph() {
  ir::Graph g;
  g.input = g.add_value("data", 3);
  ir::Node input;
  input.op = ir::Op::kInput;
  input.name = "data";
  input.output = g.input;
  g.nodes.push_back(input);
  const int a = g.add_value("conv1_out", 4);
  ir::Node c1 = make_conv("conv1", g.input, a, 3, 4, 0.5f);
  c1.conv.activation = ir::Activation::kLeakyRelu;
  c1.conv.activation_slope = 0.2f;
  g.nodes.push_back(c1);
  const int b = g.add_value("conv2_out", 2);
  ir::Node c2 = make_conv("conv2", a, b, 4, 2, 0.25f);
  for (int k = 0; k < 4 * 9; ++k) c2.weights[4 * 9 + k] = 0.0f;  // output channel 1 all zero
  g.nodes.push_back(c2);
  g.values[g.input].producer = 0;
  g.values[a].producer = 1;
  g.values[b].producer = 2;
  g.output = b;
  return g;
}

}  // namespace resr::quant::test
