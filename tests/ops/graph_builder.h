// GraphBuilder: small hand-made graphs for the executor tests (INT8, FP16, fusion). Convs get random weights of
// RRDBNet-like magnitude and a bias, drawn from the builder's own generator, so a seed fixes the graph.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace resr::test {

struct GraphBuilder {
  explicit GraphBuilder(unsigned seed) : rng(seed) {}
  ir::Graph g;
  std::mt19937 rng;

  int add(ir::Node n, int channels) {
    n.output = g.add_value(n.name, channels);
    g.values[n.output].producer = static_cast<int>(g.nodes.size());
    g.nodes.push_back(std::move(n));
    return g.nodes.back().output;
  }
  int input() {
    ir::Node n;
    n.op = ir::Op::kInput;
    n.name = "in";
    g.input = add(n, 3);
    return g.input;
  }
  // k x k conv, "same" padding, random weights and bias; INT8 when in_scale > 0 (zero >= 0: asymmetric).
  int conv(const std::string& name, int in, int oc, int k, float in_scale, int zero = -1,
           ir::Activation act = ir::Activation::kNone) {
    ir::Node n;
    n.op = ir::Op::kConv2d;
    n.name = name;
    n.inputs = {in};
    const int ic = g.values[in].channels;
    n.conv.in_channels = ic;
    n.conv.out_channels = oc;
    n.conv.kernel_h = n.conv.kernel_w = k;
    n.conv.pad = k / 2;
    n.conv.activation = act;
    n.conv.activation_slope = act == ir::Activation::kLeakyRelu ? 0.2f : 0.0f;
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    const float ws = 1.5f / std::sqrt(float(ic * k * k));
    for (int i = 0; i < oc * ic * k * k; ++i) n.weights.push_back(ws * d(rng));
    for (int o = 0; o < oc; ++o) n.bias.push_back(0.1f * d(rng));
    if (in_scale > 0) {
      n.quant.precision = ir::Precision::kInt8;
      n.quant.in_scale = in_scale;
      n.quant.asymmetric = zero >= 0;
      n.quant.in_zero = zero >= 0 ? zero : 0;
      for (int o = 0; o < oc; ++o) {
        float m = 0;
        for (int i = 0; i < ic * k * k; ++i) m = std::max(m, std::fabs(n.weights[std::size_t(o) * ic * k * k + i]));
        n.quant.weight_scales.push_back(m / 127.0f);
      }
    }
    return add(std::move(n), oc);
  }
  int prelu(const std::string& name, int in) {
    ir::Node n;
    n.op = ir::Op::kPRelu;
    n.name = name;
    n.inputs = {in};
    for (int c = 0; c < g.values[in].channels; ++c) n.slopes.push_back(0.05f * float(c % 7));
    return add(std::move(n), g.values[in].channels);
  }
  int sum(const std::string& name, int a, int b, float ca, float cb) {
    ir::Node n;
    n.op = ir::Op::kWeightedSum;
    n.name = name;
    n.inputs = {a, b};
    n.coeffs = {ca, cb};
    return add(std::move(n), g.values[a].channels);
  }
  int concat(const std::string& name, const std::vector<int>& in) {
    ir::Node n;
    n.op = ir::Op::kConcat;
    n.name = name;
    n.inputs = in;
    int c = 0;
    for (int v : in) c += g.values[v].channels;
    return add(std::move(n), c);
  }
};

// 0.5 * a(x) + 2 * c(x), two 3x3 convs of 8 channels, c after a: the sum may only fuse into c's epilogue.
inline ir::Graph sum_of_two_convs() {
  GraphBuilder b(7);
  const int x = b.input();
  const int a = b.conv("a", x, 8, 3, 0.0f);
  const int c = b.conv("c", x, 8, 3, 0.0f);
  b.g.output = b.sum("s", a, c, 0.5f, 2.0f);
  return std::move(b.g);
}

// Two dense blocks whose input is read again after them (an RRDB in miniature): the second block's concat
// takes the first block's output, and the sum at the end reads the input.
inline ir::Graph dense_blocks_with_outer_residual() {
  GraphBuilder b(3);
  const int x = b.input();
  const int f = b.conv("first", x, 8, 3, 0.0f);
  int in = f;
  for (int block = 0; block < 2; ++block) {
    const std::string n = block == 0 ? "b0" : "b1";
    const int x1 = b.conv(n + "c1", in, 4, 3, 0.0f);
    const int x2 = b.conv(n + "c2", b.concat(n + "cat1", {in, x1}), 4, 3, 0.0f);
    const int y = b.conv(n + "c3", b.concat(n + "cat2", {in, x1, x2}), 8, 3, 0.0f);
    in = b.sum(n + "res", y, in, 0.2f, 1.0f);
  }
  b.g.output = b.conv("last", b.sum("outer", in, f, 0.2f, 1.0f), 3, 3, 0.0f);
  return std::move(b.g);
}

// A 3 x h x w input with a fixed pattern in [0, 1].
inline Tensor pattern_input(int h, int w) {
  Tensor t(3, h, w);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float((i * 37) % 101) / 100.0f;
  return t;
}

// A 3 x h x w input of uniform random values in [0, 1) (a fixed seed).
inline Tensor random_image(int h, int w) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  Tensor t(3, h, w);
  for (std::int64_t k = 0; k < t.numel(); ++k) t.data()[k] = d(rng);
  return t;
}

// How far a quantized executor's output is from the reference executor's: outputs off by more than `tolerance`
// relative (to 1 + |expected|), and the largest such relative error.
struct Disagreement {
  int off = 0;
  double max_err = 0;
};
inline Disagreement disagreement(const Tensor& actual, const Tensor& expected, double tolerance) {
  Disagreement d;
  for (std::int64_t k = 0; k < actual.numel(); ++k) {
    const double e = expected.data()[k], err = std::fabs(actual.data()[k] - e) / (1 + std::fabs(e));
    d.off += err > tolerance;
    d.max_err = std::max(d.max_err, err);
  }
  return d;
}

}  // namespace resr::test
