// The public API: create an Upscaler, upscale an image in memory and a file, and get clear errors.
#include <gtest/gtest.h>

#include <resr/resr.h>
#include <filesystem>

#include "image/codec.h"
#include "support/paths.h"

namespace resr {
namespace {

TEST(Upscaler, UpscalesImagesAndFiles) {
  UpscalerOptions o;
  o.model = "x4fast";
  o.model_dir = test::model_dir();
  auto up = Upscaler::create(o);
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(up->architecture(), "SRVGGNetCompact");
  EXPECT_EQ(up->model_scale(), 4);
  auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(img.ok());
  auto out = up->upscale(*img);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 148);
  const std::string path = ::testing::TempDir() + "/api_out.webp";
  ASSERT_TRUE(up->upscale_file(test::data_path("x4fast_37x29.in.png"), path).ok());
  EXPECT_TRUE(std::filesystem::exists(path));
  std::filesystem::remove(path);
}

TEST(Upscaler, ErrorsNameTheFile) {
  UpscalerOptions o;
  o.model_path = "/nonexistent/model.pth";
  auto bad = Upscaler::create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/nonexistent/model.pth"), std::string::npos) << bad.status().message();
  o.model_path.clear();
  o.model = "x4fast";
  o.model_dir = test::model_dir();
  auto up = Upscaler::create(o);
  ASSERT_TRUE(up.ok());
  const Status st = up->upscale_file("/nonexistent/in.png", ::testing::TempDir() + "/never.png");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/in.png"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(::testing::TempDir() + "/never.png"));
}

}  // namespace
}  // namespace resr
