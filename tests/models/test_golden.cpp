// The real x4fast and x4plus models on small crops, every backend, against ../shared/golden outputs
// (copied to tests/data): max |output - golden| <= 1e-4 before clamping.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "engine/backend_factory.h"
#include "engine/model_loader.h"
#include "image/codec.h"
#include "image/convert.h"
#include "support/compare.h"
#include "support/golden_case.h"
#include "support/npy.h"
#include "support/paths.h"

namespace resr {
namespace {

struct GoldenCase {
  const char* model;
  const char* stem;
  const char* backend;
  const char* impl = "";  // RESR_IMPL: which conv kernel the CPU backend is forced to prefer
};

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, MatchesGoldenOutput) {
  const GoldenCase& c = GetParam();
  auto data = test::load_golden_case(c.model, c.stem);
  ASSERT_TRUE(data.ok()) << data.status().message();
  const test::NpyArray* golden = &data->golden;
  ::setenv("RESR_IMPL", c.impl, 1);  // read when the executable is compiled
  auto exe = engine::make_executable(data->model.graph, c.backend);
  ::unsetenv("RESR_IMPL");
  ASSERT_TRUE(exe.ok());
  auto out = (*exe)->run(data->input);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(golden->shape.size(), 3u);
  ASSERT_EQ(out->c(), golden->shape[0]);
  ASSERT_EQ(out->h(), golden->shape[1]);
  ASSERT_EQ(out->w(), golden->shape[2]);
  const double max_err = test::max_abs_error(out->data(), golden->data.data(), std::size_t(out->numel()));
  RecordProperty("max_abs_error", std::to_string(max_err));
  std::printf("%s %s %s %s: max abs error %.3g\n", c.model, c.stem, c.backend, c.impl, max_err);
  EXPECT_LE(max_err, 1e-4);
}

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  return std::string(info.param.stem) + "_" + info.param.backend + (*info.param.impl ? "_" : "") + info.param.impl;
}

INSTANTIATE_TEST_SUITE_P(RealModels, GoldenTest,
                         ::testing::Values(GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "ref"},
                                           GoldenCase{"realesrgan-x4plus", "x4plus_23x19", "cpu"},
                                           GoldenCase{"realesrgan-x4plus", "x4plus_23x19", "ref"}),
                         case_name);

// Every CPU kernel family on both models (a forced kernel that cannot run here falls back down the list).
INSTANTIATE_TEST_SUITE_P(CpuKernels, GoldenTest,
                         ::testing::Values(GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "winograd63_avx512"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "winograd43_avx512"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "winograd63"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "winograd43"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "direct_avx512"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "direct_avx2"},
                                           GoldenCase{"realesrgan-x4fast", "x4fast_37x29", "cpu", "generic"},
                                           GoldenCase{"realesrgan-x4plus", "x4plus_23x19", "cpu", "winograd63_avx512"},
                                           GoldenCase{"realesrgan-x4plus", "x4plus_23x19", "cpu", "winograd63"},
                                           GoldenCase{"realesrgan-x4plus", "x4plus_23x19", "cpu", "direct_avx512"},
                                           GoldenCase{"realesrgan-x4plus", "x4plus_23x19", "cpu", "direct_avx2"}),
                         case_name);

}  // namespace
}  // namespace resr
