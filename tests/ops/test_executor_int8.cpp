// INT8 nodes through the CPU executor vs the reference executor on a small hand-built graph: symmetric and
// asymmetric 3x3 convs with fused LeakyReLU / PReLU / residual, a dense concat, INT8 -> INT8 chains (the producer
// writes the consumer's quantized input), an INT8 1x1 conv (reference fallback) and an fp32 conv mixed in; with
// each INT8 kernel (RESR_IMPL); step timing names the INT8 kernel; an observer (which turns chains off) changes no
// bit; working_bytes counts the quantization scratch. Dense blocks of INT8 convs with one input quantization
// share one copy of their codes (passes/code_blocks.h): the same bits as without (RESR_CPU_BLOCKS=0), with
// per-channel input scales too (each part quantized with its own channels' scales).
#include <gtest/gtest.h>

#include <algorithm>
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
#include "graph_builder.h"
#include "ir/graph.h"

namespace resr::cpu {
namespace {

std::shared_ptr<const ir::Graph> small_int8_graph() {
  test::GraphBuilder b(11);
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

class ExecutorInt8Test : public ::testing::TestWithParam<const char*> {};

TEST_P(ExecutorInt8Test, CpuMatchesRef) {
  const std::string impl = GetParam();
  if (impl == "int8_vnni512" && !cpu_has_avx512_vnni()) GTEST_SKIP() << "cpu lacks AVX-512 VNNI";
  if (impl == "int8_avxvnni" && !cpu_has_avx_vnni()) GTEST_SKIP() << "cpu lacks AVX-VNNI";
  if (impl == "int8_avx2" && !cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks AVX2";
  const auto g = small_int8_graph();
  setenv("RESR_IMPL", impl.c_str(), 1);
  auto cpu = compile(g);
  unsetenv("RESR_IMPL");
  auto ref = ref::compile(g);
  const Tensor in = test::random_image(23, 17);
  Result<Tensor> a = cpu->run(in), b = ref->run(in);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->shape().c, 3);
  // The executors agree to float rounding, except where that rounding moves a value of a later INT8 conv's input
  // across a rounding boundary (one quantization step there): a few outputs at most.
  const test::Disagreement d = test::disagreement(*a, *b, 1e-4);
  EXPECT_LE(d.off, 3) << "outputs off by more than 1e-4 relative";
  EXPECT_LT(d.max_err, 0.02);

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

INSTANTIATE_TEST_SUITE_P(All, ExecutorInt8Test,
                         ::testing::Values("int8_vnni512", "int8_avxvnni", "int8_avx2", "int8_generic"),
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

// RRDB in miniature (graph_builder.h), every conv INT8: each dense block's three convs with one input quantization
// (as quantize_graph gives them), symmetric or asymmetric.
std::shared_ptr<const ir::Graph> int8_dense_blocks(bool asymmetric) {
  auto g = std::make_shared<ir::Graph>(test::dense_blocks_with_outer_residual());
  for (ir::Node& n : g->nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    const int root = g->concat_root(n.inputs[0]);
    n.quant.precision = ir::Precision::kInt8;
    n.quant.asymmetric = asymmetric;
    n.quant.in_scale = (asymmetric ? 5.0f / 255 : 3.0f / 127) * (1.0f + 0.1f * float(root % 5));
    n.quant.in_zero = asymmetric ? 40 + root % 3 : 0;
    const std::size_t per = n.weights.size() / std::size_t(n.conv.out_channels);
    for (int o = 0; o < n.conv.out_channels; ++o) {
      float m = 0;
      for (std::size_t i = 0; i < per; ++i) m = std::max(m, std::fabs(n.weights[o * per + i]));
      n.quant.weight_scales.push_back(m / 127.0f);
    }
  }
  EXPECT_TRUE(ir::verify(*g).ok()) << ir::verify(*g).message();
  return g;
}

// Per-channel input scales (ir::ConvQuant::in_channel_scales) on every symmetric INT8 conv of g: factors that
// depend on the channel and the concat root only, so the readers of one dense block agree on the channels they
// share (as quantize_graph makes them), between 1/8 and 3; weight scales re-made from the folded weights.
std::shared_ptr<const ir::Graph> with_channel_scales(const ir::Graph& source) {
  auto g = std::make_shared<ir::Graph>(source);
  for (ir::Node& n : g->nodes) {
    if (n.op != ir::Op::kConv2d || n.quant.precision != ir::Precision::kInt8 || n.quant.asymmetric) continue;
    const int root = g->concat_root(n.inputs[0]);
    n.quant.in_channel_scales.resize(std::size_t(n.conv.in_channels));
    for (int c = 0; c < n.conv.in_channels; ++c)
      n.quant.in_channel_scales[std::size_t(c)] = 0.125f + 0.25f * float((c * 7 + root) % 12);
    const std::vector<float> folded = ir::folded_int8_weights(n);
    const std::size_t per = folded.size() / std::size_t(n.conv.out_channels);
    for (int o = 0; o < n.conv.out_channels; ++o) {
      float m = 0;
      for (std::size_t i = 0; i < per; ++i) m = std::max(m, std::fabs(folded[o * per + i]));
      n.quant.weight_scales[std::size_t(o)] = m / 127.0f;
    }
  }
  EXPECT_TRUE(ir::verify(*g).ok()) << ir::verify(*g).message();
  return g;
}

std::unique_ptr<Executable> compile_with_blocks(std::shared_ptr<const ir::Graph> g, bool blocks) {
  if (!blocks) setenv("RESR_CPU_BLOCKS", "0", 1);
  auto e = compile(std::move(g));
  unsetenv("RESR_CPU_BLOCKS");
  return e;
}

// Each block's parts are quantized once into its codes (c1 and c2 writing theirs as codes), its concats not
// copied: the same bits as each conv quantizing its own input; an observer (blocks off) too; within quantization
// steps of the reference executor. working_bytes: the block's codes (16 channels) in place of the 16-channel
// scratch, which now serves the 8-channel input of `last` at most.
TEST(ExecutorInt8, DenseBlocksShareOneCopyOfTheirCodes) {
  for (const char* scheme : {"symmetric", "asymmetric", "per-channel"}) {
    SCOPED_TRACE(scheme);
    const std::string name = scheme;
    const auto g = name == "per-channel" ? with_channel_scales(*int8_dense_blocks(false))
                                         : int8_dense_blocks(name == "asymmetric");
    auto shared = compile_with_blocks(g, true), own = compile_with_blocks(g, false);
    auto ref = ref::compile(g);
    const Tensor in = test::random_image(21, 26);
    Result<Tensor> a = shared->run(in), b = own->run(in), r = ref->run(in);
    ASSERT_TRUE(a.ok() && b.ok() && r.ok());
    EXPECT_EQ(std::memcmp(a->data(), b->data(), sizeof(float) * a->numel()), 0);
    const test::Disagreement d = test::disagreement(*a, *r, 1e-4);
    EXPECT_LE(d.off, 3) << "outputs off by more than 1e-4 relative";
    EXPECT_LT(d.max_err, 0.02);

    int observed = 0;
    shared->set_observer([&](int, const ActivationView&) { ++observed; });
    Result<Tensor> c = shared->run(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(observed, 8);
    EXPECT_EQ(std::memcmp(a->data(), c->data(), sizeof(float) * a->numel()), 0);

    const Result<std::uint64_t> wa = shared->working_bytes(40, 30), wb = own->working_bytes(40, 30);
    ASSERT_TRUE(wa.ok() && wb.ok());
    EXPECT_EQ(*wa - *wb, QuantizedPlanes::bytes(PaddedGeometry{40, 30}, 8));
  }
}

// A block whose concats are not all read by its readers: with b0c3 at fp32 (not a member), cat2 runs, and so must
// cat1, the first concat of that storage, which copies the block input `first` in (it outlives the block). And a
// value twice in one concat: no single write of codes fills both places. The same bits as without blocks.
TEST(ExecutorInt8, BlocksWithAnOutsideReaderOrARepeatedPartKeepTheirBits) {
  auto g = std::make_shared<ir::Graph>(*int8_dense_blocks(false));
  for (ir::Node& n : g->nodes)
    if (n.name == "b0c3") n.quant = ir::ConvQuant{};
  ASSERT_TRUE(ir::verify(*g).ok());

  test::GraphBuilder b(41);
  const int x = b.input();
  const int a = b.conv("a", x, 8, 3, 2.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int c1 = b.conv("c1", a, 8, 3, 2.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int c2 = b.conv("c2", b.concat("cat", {a, a}), 8, 3, 2.0f / 127);
  b.g.output = b.sum("out", c1, c2, 1.0f, 1.0f);
  ASSERT_TRUE(ir::verify(b.g).ok()) << ir::verify(b.g).message();
  auto repeated = std::make_shared<ir::Graph>(std::move(b.g));

  for (const auto& graph : {std::shared_ptr<const ir::Graph>(g), std::shared_ptr<const ir::Graph>(repeated)}) {
    auto shared = compile_with_blocks(graph, true), own = compile_with_blocks(graph, false);
    const Tensor in = test::random_image(18, 22);
    Result<Tensor> r1 = shared->run(in), r2 = own->run(in);
    ASSERT_TRUE(r1.ok() && r2.ok());
    ASSERT_EQ(r1->numel(), r2->numel());
    EXPECT_EQ(std::memcmp(r1->data(), r2->data(), sizeof(float) * r1->numel()), 0);
  }
}

// Per-channel input scales with each INT8 kernel: the small graph (and a chain of symmetric convs, whose producers
// write their consumer's per-channel codes) against the reference executor, and the same bits observed (no
// hand-overs) as not; the scales really are used: the output differs from the per-tensor graph's.
TEST_P(ExecutorInt8Test, PerChannelInputScalesMatchRef) {
  const std::string impl = GetParam();
  if (impl == "int8_vnni512" && !cpu_has_avx512_vnni()) GTEST_SKIP() << "cpu lacks AVX-512 VNNI";
  if (impl == "int8_avxvnni" && !cpu_has_avx_vnni()) GTEST_SKIP() << "cpu lacks AVX-VNNI";
  if (impl == "int8_avx2" && !cpu_has_avx2_fma()) GTEST_SKIP() << "cpu lacks AVX2";
  test::GraphBuilder b(29);
  const int x = b.input();
  const int c1 = b.conv("c1", x, 13, 3, 1.0f / 127, -1, ir::Activation::kLeakyRelu);
  const int c2 = b.conv("c2", c1, 9, 3, 2.0f / 127, -1, ir::Activation::kLeakyRelu);  // chain: c1 -> c2
  b.g.output = b.conv("c3", c2, 3, 3, 2.0f / 127);                                    // chain: c2 -> c3
  ASSERT_TRUE(ir::verify(b.g).ok());
  for (const auto& source : {small_int8_graph(), std::shared_ptr<const ir::Graph>(std::make_shared<ir::Graph>(b.g))}) {
    const auto g = with_channel_scales(*source);
    setenv("RESR_IMPL", impl.c_str(), 1);
    auto cpu = compile(g);
    auto per_tensor = compile(source);
    unsetenv("RESR_IMPL");
    auto ref = ref::compile(g);
    const Tensor in = test::random_image(23, 17);
    Result<Tensor> a = cpu->run(in), r = ref->run(in), t = per_tensor->run(in);
    ASSERT_TRUE(a.ok() && r.ok() && t.ok());
    const test::Disagreement d = test::disagreement(*a, *r, 1e-4);
    EXPECT_LE(d.off, 3) << "outputs off by more than 1e-4 relative";
    EXPECT_LT(d.max_err, 0.02);
    EXPECT_GT(test::disagreement(*a, *t, 1e-4).off, 10) << "per-channel scales changed nothing";
    cpu->set_observer([](int, const ActivationView&) {});
    Result<Tensor> c = cpu->run(in);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(std::memcmp(a->data(), c->data(), sizeof(float) * a->numel()), 0);
  }
}

}  // namespace
}  // namespace resr::cpu
