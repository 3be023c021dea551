// BF16 products (cpu::FloatProducts::kBf16, the bf16 option) through the CPU executor vs the reference executor on
// a small hand-built graph: the 3x3 convs with >= 8 inputs and outputs run conv3x3_winograd63_bf16_avx512, the
// others keep their fp32 kernels; without the option no conv uses a bf16 kernel, even when forced with RESR_IMPL;
// FP8 convs (emulated in fp32) never do. Skipped on CPUs without AVX-512 + AVX512_BF16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3_winograd.h"
#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#include "graph_builder.h"
#include "ir/graph.h"
#include "step_kernels.h"
#include "support/compare.h"

namespace resr::cpu {
namespace {

using test::conv_kernels;

// in(3) -> 3->16 (ic < 8: fp32) -> 16->16 leaky -> concat 32 -> 32->17 leaky -> 17->9 (odd ic: a zero half pair)
// -> 9->3 (oc < 8: fp32 direct).
std::shared_ptr<ir::Graph> odd_channels_graph() {
  test::GraphBuilder b(29);
  const int c1 = b.conv("conv_first", b.input(), 16, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int c2 = b.conv("conv1", c1, 16, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int cc = b.concat("cat", {c1, c2});
  const int c3 = b.conv("conv2", cc, 17, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int c4 = b.conv("conv3", c3, 9, 3, 0.0f);
  b.g.output = b.conv("conv_last", c4, 3, 3, 0.0f);
  EXPECT_TRUE(ir::verify(b.g).ok()) << ir::verify(b.g).message();
  return std::make_shared<ir::Graph>(std::move(b.g));
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (std::int64_t k = 0; k < t.numel(); ++k) m = std::max(m, double(std::fabs(t.data()[k])));
  return m;
}

TEST(ExecutorBf16, CpuBf16MatchesRefWithinBf16Rounding) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "cpu lacks avx512 + avx512_bf16";
  auto g = odd_channels_graph();
  auto cpu = compile(g, nullptr, FloatProducts::kBf16);
  auto exact = compile(g);
  auto ref = ref::compile(g);
  const Tensor in = test::random_image(37, 29);  // edge tiles
  Result<Tensor> a = cpu->run(in), e = exact->run(in), r = ref->run(in);
  ASSERT_TRUE(a.ok() && e.ok() && r.ok());
  ASSERT_EQ(a->numel(), r->numel());
  const double err = test::max_abs_error(a->data(), r->data(), std::size_t(a->numel()));
  const double exact_err = test::max_abs_error(e->data(), r->data(), std::size_t(e->numel()));
  const double peak = max_abs(*r);
  std::printf("[ bf16 ] cpu bf16 vs ref: max abs err %.2e (fp32 kernels %.2e), max |out| %.3f\n", err, exact_err, peak);
  // bfloat16 rounding of V and U (2^-8 each), amplified by the F(6,3) transforms, through three bf16 convs on
  // random (not smooth) data; measured 4.7e-2 of the largest output. The fp32 kernels stay at fp32 rounding, so
  // the difference shows that the bf16 kernels ran.
  EXPECT_LE(err, 1e-1 * peak);
  EXPECT_GT(err, 10.0 * exact_err);

  const std::vector<std::string> want = {"conv3x3_winograd43_f32_avx512", "conv3x3_winograd63_bf16_avx512",
                                         "conv3x3_winograd63_bf16_avx512", "conv3x3_winograd63_bf16_avx512",
                                         "conv3x3_direct_f32_avx512"};
  EXPECT_EQ(conv_kernels(*cpu, in), want);
}

TEST(ExecutorBf16, Bf16KernelsOnlyWhereAllowed) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "cpu lacks avx512 + avx512_bf16";
  auto g = odd_channels_graph();
  const Tensor in = test::random_image(9, 11);
  const char* before = std::getenv("RESR_IMPL");
  const std::string saved = before != nullptr ? before : "";
  setenv("RESR_IMPL", "winograd43_bf16", 1);
  auto exact = compile(g);
  auto bf16 = compile(g, nullptr, FloatProducts::kBf16);
  if (before != nullptr) {
    setenv("RESR_IMPL", saved.c_str(), 1);
  } else {
    unsetenv("RESR_IMPL");
  }
  for (const std::string& name : conv_kernels(*exact, in)) EXPECT_EQ(name.find("bf16"), std::string::npos) << name;
  const std::vector<std::string> want = {"conv3x3_winograd43_f32_avx512", "conv3x3_winograd43_bf16_avx512",
                                         "conv3x3_winograd43_bf16_avx512", "conv3x3_winograd43_bf16_avx512",
                                         "conv3x3_direct_f32_avx512"};
  EXPECT_EQ(conv_kernels(*bf16, in), want);

  // FP8 convs are emulated in fp32 on E4M3 values: bf16 products would change what they emulate.
  auto fp8 = std::make_shared<ir::Graph>(*g);
  for (ir::Node& n : fp8->nodes)
    if (n.op == ir::Op::kConv2d && n.name == "conv2") {
      n.quant.precision = ir::Precision::kFp8;
      n.quant.in_scale = 1.0f / 64;
      float m = 0;
      for (const float w : n.weights) m = std::max(m, std::fabs(w));
      n.quant.weight_scales.assign(std::size_t(n.conv.out_channels), m / 448.0f);
    }
  ASSERT_TRUE(ir::verify(*fp8).ok()) << ir::verify(*fp8).message();
  auto mixed = compile(fp8, nullptr, FloatProducts::kBf16);
  const std::vector<std::string> k = conv_kernels(*mixed, in);
  ASSERT_EQ(k.size(), 5u);
  EXPECT_EQ(k[2].find("bf16"), std::string::npos) << k[2];
  EXPECT_NE(k[1].find("bf16"), std::string::npos) << k[1];
}

}  // namespace
}  // namespace resr::cpu
