// FP16 nodes (quant::round_to_fp16) through the CPU executor vs the reference executor on a small hand-built
// graph: the 3x3 convs with >= 8 outputs run the binary16-weight Winograd kernels (conv3x3_winograd{63,43}_
// f16w_avx512), whose extra error is the binary16 rounding of the transformed weights; the same graph in fp32
// never uses them, even when forced with RESR_IMPL. Skipped without AVX-512 + F16C.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3_winograd.h"
#include "backends/cpu/executor.h"
#include "backends/ref/executor.h"
#include "graph_builder.h"
#include "ir/graph.h"
#include "quant/quantize_graph.h"
#include "step_kernels.h"
#include "support/compare.h"

namespace resr::cpu {
namespace {

using test::conv_kernels;

// in(3) -> conv_first 3->16 (F(4,3): ic < 8) -> body 16->16, + residual -> concat 32 -> 32->24 -> conv_last 24->3
// (fp32 direct kernel: oc < 8).
std::shared_ptr<ir::Graph> small_graph() {
  test::GraphBuilder b(17);
  const int c1 = b.conv("conv_first", b.input(), 16, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  const int c2 = b.conv("body.conv1", c1, 16, 3, 0.0f);
  const int r = b.sum("body.add", c2, c1, 0.2f, 1.0f);
  const int cc = b.concat("body.cat", {c1, r});
  const int c3 = b.conv("body.conv2", cc, 24, 3, 0.0f, -1, ir::Activation::kLeakyRelu);
  b.g.output = b.conv("conv_last", c3, 3, 3, 0.0f);
  EXPECT_TRUE(ir::verify(b.g).ok()) << ir::verify(b.g).message();
  return std::make_shared<ir::Graph>(std::move(b.g));
}

TEST(ExecutorFp16, CpuF16wMatchesRef) {
  if (!cpu_has_avx512f_f16c()) GTEST_SKIP() << "cpu lacks avx512 + f16c";
  auto g = small_graph();
  ASSERT_TRUE(quant::round_to_fp16(*g).ok());
  auto cpu = compile(g);
  auto ref = ref::compile(g);
  const Tensor in = test::random_image(37, 29);  // edge tiles for both tile sizes
  Result<Tensor> a = cpu->run(in), b = ref->run(in);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->numel(), b->numel());
  // Relative to the output magnitude: binary16 rounding of U (2^-11 per weight, amplified by the transforms:
  // test_conv3x3_winograd's f16w_rel_tol) through four convs; measured 3.7e-3.
  const double max_err = test::max_abs_error(a->data(), b->data(), std::size_t(a->numel()));
  double max_ref = 0.0;
  for (std::int64_t k = 0; k < a->numel(); ++k) max_ref = std::max(max_ref, double(std::fabs(b->data()[k])));
  std::printf("[ fp16 ] cpu f16w vs ref: max abs err %.2e, max |out| %.3f\n", max_err, max_ref);
  EXPECT_LE(max_err, 1e-2 * max_ref);

  const std::vector<std::string> k = conv_kernels(*cpu, in);
  const std::vector<std::string> want = {"conv3x3_winograd43_f16w_avx512", "conv3x3_winograd63_f16w_avx512",
                                         "conv3x3_winograd63_f16w_avx512", "conv3x3_direct_f32_avx512"};
  EXPECT_EQ(k, want);
}

TEST(ExecutorFp16, ForcedF16wOnlyForFp16Nodes) {
  if (!cpu_has_avx512f_f16c()) GTEST_SKIP() << "cpu lacks avx512 + f16c";
  auto fp32 = small_graph();
  auto fp16 = std::make_shared<ir::Graph>(*fp32);
  ASSERT_TRUE(quant::round_to_fp16(*fp16).ok());
  const Tensor in = test::random_image(9, 11);
  setenv("RESR_IMPL", "winograd43_f16w", 1);
  auto a = compile(fp32);
  auto b = compile(fp16);
  unsetenv("RESR_IMPL");
  for (const std::string& name : conv_kernels(*a, in)) EXPECT_EQ(name.find("f16w"), std::string::npos) << name;
  const std::vector<std::string> want = {"conv3x3_winograd43_f16w_avx512", "conv3x3_winograd43_f16w_avx512",
                                         "conv3x3_winograd43_f16w_avx512", "conv3x3_direct_f32_avx512"};
  EXPECT_EQ(conv_kernels(*b, in), want);
}

}  // namespace
}  // namespace resr::cpu
