// The CUDA backend (built when CMake finds nvcc + cuDNN) on the real x4fast / x4plus models: FP32 within 1e-3
// max abs of the golden outputs (tests/data), FP16 (every conv rounded to binary16) >= 50 dB PSNR against them.
// Without a GPU these tests skip with the reason, and the one that checks the refusal runs instead.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "backends/cuda/device.h"
#include "engine/backend_factory.h"
#include "engine/model_loader.h"
#include "image/codec.h"
#include "image/convert.h"
#include "quant/quantize_graph.h"
#include "support/npy.h"
#include "support/paths.h"

namespace resr {
namespace {

#define RESR_SKIP_WITHOUT_GPU()                                                             \
  do {                                                                                      \
    const cuda::DeviceInfo dev = cuda::query_devices();                                     \
    if (dev.count == 0) GTEST_SKIP() << "no CUDA GPU here (" << dev.reason << "): skipped"; \
  } while (0)

TEST(CudaBackend, WithoutGpuCompileFailsWithOneLine) {
  const cuda::DeviceInfo dev = cuda::query_devices();
  if (dev.count > 0) GTEST_SKIP() << "a GPU is present (" << dev.name << ")";
  EXPECT_FALSE(dev.reason.empty());
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto exe = engine::make_executable(model->graph, "cuda");
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("no CUDA GPU"), std::string::npos) << exe.status().message();
  EXPECT_EQ(exe.status().message().find('\n'), std::string::npos);
}

struct Case {
  const char* model;
  const char* stem;
  bool fp16;
};

class CudaGolden : public ::testing::TestWithParam<Case> {};

TEST_P(CudaGolden, MatchesGoldenOutput) {
  RESR_SKIP_WITHOUT_GPU();
  const Case& c = GetParam();
  auto model = engine::load_model({test::model_dir(), c.model});
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::shared_ptr<const ir::Graph> graph = model->graph;
  if (c.fp16) {
    auto g = std::make_shared<ir::Graph>(*graph);
    ASSERT_TRUE(quant::round_to_fp16(*g).ok());
    graph = g;
  }
  auto image = read_image_file(test::data_path(std::string(c.stem) + ".in.png"));
  ASSERT_TRUE(image.ok()) << image.status().message();
  auto golden = test::read_npy_f32(test::data_path(std::string(c.stem) + ".out.npy"));
  ASSERT_TRUE(golden.has_value());
  auto exe = engine::make_executable(graph, "cuda");
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  auto out = (*exe)->run(image_rgb_to_tensor(*image));
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->numel(), std::int64_t(golden->data.size()));
  double max_err = 0, sq = 0;
  for (std::int64_t i = 0; i < out->numel(); ++i) {
    const double d = double(out->data()[i]) - golden->data[i];
    max_err = std::max(max_err, std::fabs(d));
    sq += d * d;
  }
  const double psnr = 10.0 * std::log10(1.0 / std::max(sq / double(out->numel()), 1e-30));
  std::printf("[ cuda ] %s %s %s: max abs error %.3g, PSNR %.2f dB\n", c.model, c.stem, c.fp16 ? "fp16" : "fp32",
              max_err, psnr);
  if (c.fp16) {
    EXPECT_GE(psnr, 50.0);
  } else {
    EXPECT_LE(max_err, 1e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(RealModels, CudaGolden,
                         ::testing::Values(Case{"realesrgan-x4fast", "x4fast_37x29", false},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", false},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.stem) + (i.param.fp16 ? "_fp16" : "_fp32");
                         });

}  // namespace
}  // namespace resr
