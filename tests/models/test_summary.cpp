// resr info's figures for the real models: architecture, scale, counts and cost as the model cards give them.
#include <gtest/gtest.h>

#include "engine/model_loader.h"
#include "support/paths.h"

namespace resr {
namespace {

TEST(ModelSummary, X4plusIsRrdbNet) {
  auto m = engine::load_model({test::model_dir(), "x4plus"});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->summary.architecture, "RRDBNet");
  EXPECT_EQ(m->summary.scale, 4);
  EXPECT_EQ(m->summary.convs, 351);
  EXPECT_EQ(m->summary.blocks, 23);
  EXPECT_EQ(m->summary.features, 64);
  EXPECT_EQ(m->summary.growth, 32);
  EXPECT_NEAR(m->summary.macs_per_pixel / 1e6, 17.93, 0.01);
  EXPECT_NEAR(m->summary.receptive_radius, 348.25, 0.01);  // 347 convs at 1x, one at 2x, three at 4x
}

TEST(ModelSummary, X4fastIsSrvggCompact) {
  auto m = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->summary.architecture, "SRVGGNetCompact");
  EXPECT_EQ(m->summary.scale, 4);
  EXPECT_EQ(m->summary.convs, 34);
  EXPECT_EQ(m->summary.blocks, 32);
  EXPECT_NEAR(m->summary.macs_per_pixel / 1e6, 1.209, 0.001);
  EXPECT_NEAR(m->summary.receptive_radius, 34, 1e-9);
}

}  // namespace
}  // namespace resr
