// INT8 nodes through the CPU executor vs the reference executor on a small hand-built graph: symmetric and
// asymmetric 3x3 convs with fused LeakyReLU / PReLU / residual, a dense concat, INT8 -> INT8 chains (the producer
// writes the consumer's quantized input), an INT8 1x1 conv (reference fallback) and an fp32 conv mixed in; with
// each INT8 kernel (RESR_IMPL); step timing names the INT8 kernel; an observer (which turns chains off) changes no
// bit; working_bytes counts the quantization scratch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#include "ir/graph.h"

namespace resr::cpu {
namespace {

struct Builder {
  ir::Graph g;
  std::mt19937 rng{11};

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

std::shared_ptr<const ir::Graph> small_int8_graph() {
  Builder b;
  const int x = b.input();
  const int c1 = b.conv("conv_first", x, 16, 3, 1.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int c2 = b.conv("body.conv1", c1, 16, 3, 4.0f / 255, 128);  // asymmetric
  const int p2 = b.prelu("body.prelu1", c2);
  const int r = b.sum("body.add", p2, c1, 0.2f, 1.0f);  // fused residual
  const int cat = b.concat("body.cat", {c1, r});
  const int c3 = b.conv("body.conv2", cat, 24, 3, 3.0f / 127, -1, ir::Activation::kRelu);
  const int c3b = b.prelu("body.prelu3", b.conv("body.conv3", c3, 20, 3, 2.0f / 255, 10));  // chain: c3 -> conv3
  const int c4 = b.conv("body.conv1x1", c3b, 16, 1, 3.0f / 127);  // INT8 1x1: reference fallback
  const int c5 = b.conv("conv_fp32", c4, 8, 3, 0.0f);             // fp32 in between
  const int c6 = b.conv("conv_hr", c5, 6, 3, 2.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int out = b.conv("conv_last", c6, 3, 3, 2.0f / 255, 90);  // chain: conv_hr -> conv_last
  b.g.output = out;
  EXPECT_TRUE(ir::verify(b.g).ok()) << ir::verify(b.g).message();
  return std::make_shared<ir::Graph>(std::move(b.g));
}

Tensor random_image(int h, int w) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  Tensor t(3, h, w);
  for (std::int64_t k = 0; k < t.numel(); ++k) t.data()[k] = d(rng);
  return t;
}

class ExecutorInt8Test : public ::testing::TestWithParam<const char*> {};

TEST_P(ExecutorInt8Test, CpuMatchesRef) {
  const std::string impl = GetParam();
  if (impl == "int8_vnni512" && !cpu_has_avx512_vnni()) GTEST_SKIP() << "cpu lacks AVX-512 VNNI";
  const auto g = small_int8_graph();
  setenv("RESR_IMPL", impl.c_str(), 1);
  auto cpu = compile(g);
  unsetenv("RESR_IMPL");
  auto ref = ref::compile(g);
  const Tensor in = random_image(23, 17);
  Result<Tensor> a = cpu->run(in), b = ref->run(in);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->shape().c, 3);
  // The executors agree to float rounding, except where that rounding moves a value of a later INT8 conv's input
  // across a rounding boundary (one quantization step there): a few outputs at most.
  int off = 0;
  double max_err = 0;
  for (std::int64_t k = 0; k < a->numel(); ++k) {
    const double e = b->data()[k], err = std::fabs(a->data()[k] - e) / (1 + std::fabs(e));
    off += err > 1e-4;
    max_err = std::max(max_err, err);
  }
  EXPECT_LE(off, 3) << "outputs off by more than 1e-4 relative";
  EXPECT_LT(max_err, 0.02);

  cpu->set_step_timing(true);
  ASSERT_TRUE(cpu->run(in).ok());
  int int8_steps = 0;
  for (const StepTime& t : cpu->step_times()) {
    if (t.kernel == "conv3x3_int8_" + impl.substr(5)) ++int8_steps;
    if (t.name == "body.conv1x1") {
      EXPECT_EQ(t.kernel, "conv int8 (reference)");
    }
  }
  EXPECT_EQ(int8_steps, 6);

  // An observer turns the INT8 chains off (it reads the fp32 values between them): same bits.
  int observed = 0;
  cpu->set_observer([&](int, const ActivationView&) { ++observed; });
  Result<Tensor> c = cpu->run(in);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(observed, 8);
  EXPECT_EQ(std::memcmp(a->data(), c->data(), sizeof(float) * a->numel()), 0);
}

INSTANTIATE_TEST_SUITE_P(All, ExecutorInt8Test, ::testing::Values("int8_vnni512", "int8_generic"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

TEST(ExecutorInt8, WorkingBytesCountScratch) {
  const auto g = small_int8_graph();
  auto fp32 = std::make_shared<ir::Graph>(*g);
  for (ir::Node& n : fp32->nodes) n.quant = ir::ConvQuant{};
  auto a = compile(g), b = compile(fp32);
  const Result<std::uint64_t> wa = a->working_bytes(40, 30), wb = b->working_bytes(40, 30);
  ASSERT_TRUE(wa.ok() && wb.ok());
  // Two scratch buffers (the graph has INT8 chains) for the largest INT8 input: the 32-channel concat.
  EXPECT_EQ(*wa - *wb, 2 * QuantizedPlanes::bytes(PaddedGeometry{40, 30}, 32));
}

}  // namespace
}  // namespace resr::cpu
