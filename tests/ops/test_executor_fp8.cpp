// FP8 (E4M3, emulated) nodes through the CPU executor vs the reference executor on a small hand-built graph:
// 3x3 convs with fused LeakyReLU / PReLU / residual, a dense concat, a 1x1 conv (reference fallback) and an fp32
// conv mixed in. Also: an FP8 conv stays within the worst-case rounding bound of fp32, step timing names the emulation,
// and working_bytes counts the scratch that holds a conv's FP8 input, and the dense block's rounded copy that two
// convs share (passes/code_blocks.h: its parts rounded once; the same bits as without, RESR_CPU_BLOCKS=0).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/executor.h"
#include "backends/cpu/padded_planes.h"
#include "backends/ref/executor.h"
#include "backends/ref/kernels.h"
#include "graph_builder.h"
#include "ir/graph.h"

namespace resr::cpu {
namespace {

// A conv to FP8, input scale as if calibrated with the largest |x| = `largest`.
void set_fp8(ir::Node& n, float largest) {
  n.quant = ir::ConvQuant{};
  n.quant.precision = ir::Precision::kFp8;
  n.quant.in_scale = largest / 448.0f;
  const std::size_t per = n.weights.size() / std::size_t(n.conv.out_channels);
  for (int o = 0; o < n.conv.out_channels; ++o) {
    float m = 0;
    for (std::size_t k = 0; k < per; ++k) m = std::max(m, std::fabs(n.weights[o * per + k]));
    n.quant.weight_scales.push_back(m / 448.0f);
  }
}

// Every conv but conv_fp32 to FP8.
void make_fp8(ir::Graph& g, float largest) {
  for (ir::Node& n : g.nodes)
    if (n.op == ir::Op::kConv2d && n.name != "conv_fp32") set_fp8(n, largest);
}

ir::Graph small_graph() {
  test::GraphBuilder b(17);
  const int x = b.input();
  const int c1 = b.conv("conv_first", x, 16, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int p2 = b.prelu("body.prelu1", b.conv("body.conv1", c1, 16, 3, 0.0f));
  const int r = b.sum("body.add", p2, c1, 0.2f, 1.0f);  // fused residual
  const int cat = b.concat("body.cat", {c1, r});
  const int c3 = b.conv("body.conv2", cat, 24, 3, 0.0f, -1, ir::Activation::kRelu);
  const int c4 = b.conv("body.conv1x1", c3, 16, 1, 0.0f);  // 1x1: reference fallback
  const int c5 = b.conv("conv_fp32", c4, 8, 3, 0.0f);
  b.g.output = b.conv("conv_last", c5, 3, 3, 0.0f);
  return std::move(b.g);
}

TEST(ExecutorFp8, CpuMatchesRef) {
  ir::Graph g = small_graph();
  make_fp8(g, 4.0f);
  ASSERT_TRUE(ir::verify(g).ok()) << ir::verify(g).message();
  const auto shared = std::make_shared<const ir::Graph>(std::move(g));
  auto cpu = compile(shared);
  auto ref = ref::compile(shared);
  const Tensor in = test::random_image(23, 17);
  Result<Tensor> a = cpu->run(in), b = ref->run(in);
  ASSERT_TRUE(a.ok() && b.ok());
  // The CPU sums in fp32, the reference in double: they agree to float rounding, except where that rounding moves
  // a later FP8 conv's input across a rounding boundary (one E4M3 step, 1/16 relative): a few outputs at most.
  const test::Disagreement d = test::disagreement(*a, *b, 1e-4);
  EXPECT_LE(d.off, 3) << "outputs off by more than 1e-4 relative";
  EXPECT_LT(d.max_err, 0.05);

  cpu->set_step_timing(true);
  ASSERT_TRUE(cpu->run(in).ok());
  int fp8_steps = 0;
  for (const StepTime& t : cpu->step_times()) {
    if (t.kernel.rfind("fp8 emulated, ", 0) == 0) ++fp8_steps;
    if (t.name == "body.conv1x1") {
      EXPECT_EQ(t.kernel, "conv fp8 (reference)");
    }
  }
  EXPECT_EQ(fp8_steps, 4);
}

// body.conv1 and body.conv2 read one dense block (conv_first's output, then its concat with body.add) with one
// scale: they share one rounded copy, each part rounded once and the concat not copied. The same bits as each
// conv rounding its own input (RESR_CPU_BLOCKS=0), and as an observed run (the block's space as scratch).
TEST(ExecutorFp8, DenseBlockRoundedOnceGivesTheSameBits) {
  ir::Graph g = small_graph();
  make_fp8(g, 4.0f);
  const auto shared = std::make_shared<const ir::Graph>(std::move(g));
  auto with = compile(shared);
  setenv("RESR_CPU_BLOCKS", "0", 1);
  auto without = compile(shared);
  unsetenv("RESR_CPU_BLOCKS");
  const Tensor in = test::random_image(19, 26);
  Result<Tensor> a = with->run(in), b = without->run(in);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::memcmp(a->data(), b->data(), sizeof(float) * a->numel()), 0);
  int observed = 0;
  with->set_observer([&](int, const ActivationView&) { ++observed; });
  Result<Tensor> c = with->run(in);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(observed, 6);
  EXPECT_EQ(std::memcmp(a->data(), c->data(), sizeof(float) * a->numel()), 0);
}

// INT8 and FP8 convs side by side, in every order: INT8 -> INT8 (the quantized hand-over), INT8 -> FP8 and
// FP8 -> INT8 (where no hand-over may happen: the two schemes code their inputs differently).
TEST(ExecutorFp8, MixedWithInt8MatchesRef) {
  test::GraphBuilder b(29);
  const int x = b.input();
  const int c1 = b.conv("conv_first", x, 16, 3, 1.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int c2 = b.conv("body.int8", c1, 16, 3, 3.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int c3 = b.conv("body.fp8_a", c2, 16, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int c4 = b.conv("body.fp8_b", c3, 16, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int c5 = b.conv("body.int8_after", c4, 16, 3, 4.0f / 127, -1, ir::Activation::kLeakyRelu);
  b.g.output = b.conv("conv_last", c5, 3, 3, 0.0f);
  for (ir::Node& n : b.g.nodes)
    if (n.name.find("fp8") != std::string::npos || n.name == "conv_last") set_fp8(n, 4.0f);
  ASSERT_TRUE(ir::verify(b.g).ok()) << ir::verify(b.g).message();
  const auto shared = std::make_shared<const ir::Graph>(std::move(b.g));
  const Tensor in = test::random_image(21, 19);
  Result<Tensor> a = compile(shared)->run(in), r = ref::compile(shared)->run(in);
  ASSERT_TRUE(a.ok() && r.ok());
  const test::Disagreement d = test::disagreement(*a, *r, 1e-4);
  EXPECT_LE(d.off, 3) << "outputs off by more than 1e-4 relative";
  EXPECT_LT(d.max_err, 0.05);
}

// One FP8 conv (fused LeakyReLU off: the bound is on the linear sum) against the same conv in fp32: every output
// within the worst case of rounding each operand, |x^ - x| <= max(|x| / 16, in_scale / 1024) (half an E4M3 step;
// the second term among subnormals), and the same for w with its channel's scale.
TEST(ExecutorFp8, WithinTheRoundingBoundOfFp32) {
  test::GraphBuilder b(23);
  const int x = b.input();
  const int c1 = b.conv("conv_first", x, 16, 3, 0.0f);  // fp32: gives the FP8 conv a 16-channel input
  b.g.output = b.conv("body.conv", c1, 8, 3, 0.0f);
  ir::Graph fp32 = b.g;
  ir::Graph fp8 = fp32;
  make_fp8(fp8, 4.0f);
  fp8.nodes[1].quant = ir::ConvQuant{};  // conv_first stays fp32
  const ir::Node& conv = fp8.nodes[2];
  const Tensor in = test::random_image(20, 24);
  Result<Tensor> a = compile(std::make_shared<ir::Graph>(fp8))->run(in);
  Result<Tensor> r = compile(std::make_shared<ir::Graph>(fp32))->run(in);
  // conv_first's output, the FP8 conv's input, in fp32.
  ir::Graph first = fp32;
  first.nodes.pop_back();
  first.output = first.nodes.back().output;
  first.values.pop_back();
  Result<Tensor> mid = compile(std::make_shared<ir::Graph>(first))->run(in);
  ASSERT_TRUE(a.ok() && r.ok() && mid.ok());
  const float in_scale = conv.quant.in_scale;
  Tensor err_x(mid->shape()), abs_x(mid->shape());
  float largest = 0;
  for (std::int64_t k = 0; k < mid->numel(); ++k) {
    const float v = std::fabs(mid->data()[k]);
    largest = std::max(largest, v);
    abs_x.data()[k] = v;
    err_x.data()[k] = std::max(v / 16, in_scale / 1024);
  }
  ASSERT_LT(largest, 4.0f) << "the input must stay within the calibrated range for this bound";
  std::vector<float> abs_w_plus(conv.weights.size()), err_w(conv.weights.size());
  const std::size_t per = conv.weights.size() / 8;
  for (std::size_t k = 0; k < conv.weights.size(); ++k) {
    err_w[k] = std::max(std::fabs(conv.weights[k]) / 16, conv.quant.weight_scales[k / per] / 1024);
    abs_w_plus[k] = std::fabs(conv.weights[k]) + err_w[k];
  }
  ir::ConvParams linear = conv.conv;
  linear.activation = ir::Activation::kNone;
  // |x^ w^ - x w| <= |x^ - x| |w^| + |x| |w^ - w|
  const Tensor bound1 = ref::conv2d(err_x, linear, abs_w_plus, {});
  const Tensor bound2 = ref::conv2d(abs_x, linear, err_w, {});
  double total_err = 0;
  for (std::int64_t k = 0; k < a->numel(); ++k) {
    const double e = std::fabs(double(a->data()[k]) - r->data()[k]);
    const double bound = (bound1.data()[k] + bound2.data()[k]) * 1.001 + 1e-5;
    ASSERT_LE(e, bound) << "output " << k;
    total_err += e;
  }
  EXPECT_GT(total_err, 0.0) << "FP8 rounded nothing: the emulation is not running";
}

TEST(ExecutorFp8, WorkingBytesCountScratch) {
  ir::Graph fp32 = small_graph();
  ir::Graph fp8 = fp32;
  make_fp8(fp8, 4.0f);
  const PaddedGeometry geo{40, 30};
  auto b = compile(std::make_shared<ir::Graph>(fp32));
  const Result<std::uint64_t> wb = b->working_bytes(40, 30);
  ASSERT_TRUE(wb.ok());
  for (const bool blocks : {true, false}) {
    if (!blocks) setenv("RESR_CPU_BLOCKS", "0", 1);
    auto a = compile(std::make_shared<ir::Graph>(fp8));
    unsetenv("RESR_CPU_BLOCKS");
    const Result<std::uint64_t> wa = a->working_bytes(40, 30);
    ASSERT_TRUE(wa.ok());
    if (blocks) {
      // body.conv1 (reading conv_first's output) and body.conv2 (reading the concat of it and body.add) share
      // one rounded copy of the 32-channel block; the scratch serves the others, conv_last's 8 channels at most.
      EXPECT_EQ(*wa - *wb, (geo.floats(32) + geo.floats(8)) * sizeof(float));
    } else {
      // One fp32 scratch for the largest FP8 3x3 input: the 32-channel concat.
      EXPECT_EQ(*wa - *wb, geo.floats(32) * sizeof(float));
    }
  }
}

}  // namespace
}  // namespace resr::cpu
