// The real Real-ESRGAN weights (x4plus: RRDBNet 23 blocks; x4fast: SRVGGNetCompact 32 convs) written by
// `scripts/make_fixtures.py --real build/real_weights` as .pth, .safetensors and .onnx give the same output
// as the ncnn files they were read from. The files are big and not committed: absent, the test skips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/backend_factory.h"
#include "engine/model_loader.h"
#include "formats/file_bytes.h"
#include "formats/ncnn_writer.h"
#include "formats/onnx_reader.h"
#include "image/codec.h"
#include "image/convert.h"
#include "support/compare.h"
#include "support/paths.h"

#ifndef RESR_REAL_WEIGHTS_DIR
#define RESR_REAL_WEIGHTS_DIR "build/real_weights"
#endif

namespace resr {
namespace {

std::string real_dir() {
  const char* env = std::getenv("RESR_REAL_WEIGHTS");
  return (env != nullptr && *env != '\0') ? std::string(env) : std::string(RESR_REAL_WEIGHTS_DIR);
}

struct RealCase {
  const char* model;
  const char* ext;
  const char* image;
  const char* architecture;
  int blocks;
};

class RealWeights : public ::testing::TestWithParam<RealCase> {};

TEST_P(RealWeights, SameOutputAsNcnn) {
  const RealCase& c = GetParam();
  const std::string path = real_dir() + "/" + c.model + c.ext;
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << path << " not found: run `/usr/bin/python3 scripts/make_fixtures.py --real " << real_dir()
                 << "` (needs python3-torch and the ncnn models from scripts/setup.sh)";
  if (std::string(c.ext) == ".onnx" && !formats::onnx_supported()) GTEST_SKIP() << "built without ONNX support";
  engine::ModelSource ncnn_src{test::model_dir(), c.model};
  auto ncnn = engine::load_model(ncnn_src);
  ASSERT_TRUE(ncnn.ok()) << ncnn.status().message();
  engine::ModelSource src;
  src.path = path;
  auto other = engine::load_model(src);
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_EQ(other->summary.architecture, c.architecture);
  EXPECT_EQ(other->summary.scale, 4);
  EXPECT_EQ(other->summary.blocks, c.blocks);
  EXPECT_EQ(other->summary.parameters, ncnn->summary.parameters);
  auto image = read_image_file(test::data_path(c.image));
  ASSERT_TRUE(image.ok());
  const Tensor input = image_rgb_to_tensor(*image);
  auto a = engine::make_executable(ncnn->graph, "cpu");
  auto b = engine::make_executable(other->graph, "cpu");
  ASSERT_TRUE(a.ok() && b.ok());
  auto ya = (*a)->run(input);
  auto yb = (*b)->run(input);
  ASSERT_TRUE(ya.ok() && yb.ok());
  ASSERT_EQ(ya->shape(), yb->shape());
  const double max_err = test::max_abs_error(ya->data(), yb->data(), std::size_t(ya->numel()));
  std::printf("%s%s vs ncnn: max abs difference %.3g\n", c.model, c.ext, max_err);
  RecordProperty("max_abs_difference", std::to_string(max_err));
  EXPECT_LE(max_err, 1e-4);
}

std::string real_name(const ::testing::TestParamInfo<RealCase>& info) {
  std::string s = std::string(info.param.model) + info.param.ext;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Real, RealWeights,
    ::testing::Values(RealCase{"realesrgan-x4fast", ".pth", "x4fast_37x29.in.png", "SRVGGNetCompact", 32},
                      RealCase{"realesrgan-x4fast", ".safetensors", "x4fast_37x29.in.png", "SRVGGNetCompact", 32},
                      RealCase{"realesrgan-x4fast", ".onnx", "x4fast_37x29.in.png", "SRVGGNetCompact", 32},
                      RealCase{"realesrgan-x4plus", ".pth", "x4plus_23x19.in.png", "RRDBNet", 23},
                      RealCase{"realesrgan-x4plus", ".safetensors", "x4plus_23x19.in.png", "RRDBNet", 23},
                      RealCase{"realesrgan-x4plus", ".onnx", "x4plus_23x19.in.png", "RRDBNet", 23}),
    real_name);

// resr convert --to ncnn --storage fp16 of the .pth reproduces the released .bin byte for byte.
TEST(RealWeightsConvert, Fp16NcnnBinIsByteIdentical) {
  for (const char* model : {"realesrgan-x4fast", "realesrgan-x4plus"}) {
    const std::string path = real_dir() + "/" + model + ".pth";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (see RealWeights)";
    auto g = engine::read_model_graph(path);
    ASSERT_TRUE(g.ok()) << g.status().message();
    auto original = formats::read_file_bytes(test::model_dir() + "/" + model + ".bin");
    ASSERT_TRUE(original.ok());
    const formats::NcnnFiles f = formats::serialize_ncnn_model(*g, /*fp16=*/true);
    EXPECT_EQ(f.bin.size(), original->size()) << model;
    EXPECT_TRUE(f.bin == *original) << model;
  }
}

}  // namespace
}  // namespace resr
