// calibrate() end to end on the small committed SRVGGNetCompact fixture: every conv input gets a range, the
// table carries the model's fingerprint and quantizes it; unreadable images are skipped, none readable fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "image/codec.h"
#include "ir/fingerprint.h"
#include "quant/calibrate.h"
#include "quant/quantize_graph.h"
#include "support/paths.h"

namespace resr::quant {
namespace {
namespace fs = std::filesystem;

class CalibrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("resr_calibrate_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    auto m = engine::load_model(engine::ModelSource(test::data_path("fixtures/srvgg_x4_prelu.pth"), ""));
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = *m;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string image(const std::string& name, int w, int h, int channels) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.bytes.resize(img.sample_count());
    for (std::size_t i = 0; i < img.bytes.size(); ++i) img.bytes[i] = std::uint8_t((i * 53 + i / 7) % 256);
    const std::string p = (dir_ / name).string();
    EXPECT_TRUE(write_image_file(img, p, ImageFormat::kPng, {}).ok());
    return p;
  }

  fs::path dir_;
  engine::LoadedModel model_;
};

TEST_F(CalibrateTest, EveryConvInputHasARange) {
  const std::vector<std::string> images = {image("a.png", 40, 30, 3), image("b.png", 12, 50, 1)};
  CalibrateOptions o;
  o.num_tiles = 6;
  o.tile = 16;
  int last_done = 0;
  o.on_tile = [&](int done, int total) {
    EXPECT_EQ(total, 6);
    last_done = done;
  };
  CalibrateReport report;
  auto t = calibrate(model_, images, o, &report);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(last_done, 6);
  EXPECT_EQ(report.tiles, 6);
  EXPECT_EQ(report.images_used, 2);
  EXPECT_EQ(t->model_fingerprint, ir::graph_fingerprint(*model_.graph));
  EXPECT_EQ(t->method, "percentile");  // the default
  EXPECT_EQ(t->samples, 6);
  EXPECT_EQ(t->tile, 16);
  EXPECT_EQ(t->date.size(), 20u);
  const ir::Graph& g = *model_.graph;
  for (const ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    const TensorRange* r = t->find(g.values[n.inputs[0]].name);
    ASSERT_NE(r, nullptr) << n.name;
    EXPECT_GE(r->threshold, 0.0f);
    EXPECT_LE(r->threshold, std::max(-r->min, r->max));
    // The largest |x| of each input channel; the largest of them is the tensor's.
    ASSERT_EQ(r->channel_max.size(), std::size_t(g.values[n.inputs[0]].channels)) << n.name;
    EXPECT_EQ(*std::max_element(r->channel_max.begin(), r->channel_max.end()), std::max(-r->min, r->max)) << n.name;
  }
  const TensorRange* in = t->find(g.values[g.input].name);
  ASSERT_NE(in, nullptr);
  EXPECT_GE(in->min, 0.0f);  // pixels in [0, 1]
  EXPECT_LE(in->max, 1.0f);
  ASSERT_EQ(in->channel_max.size(), 3u);
  for (float m : in->channel_max) {
    EXPECT_GT(m, 0.0f);
    EXPECT_LE(m, 1.0f);
  }
  // It goes through a written table unchanged.
  const std::string path = (dir_ / "t.calib").string();
  ASSERT_TRUE(write_calib_table(*t, path).ok());
  auto back = read_calib_table(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  for (std::size_t i = 0; i < t->tensors.size(); ++i)
    EXPECT_EQ(back->tensors[i].channel_max, t->tensors[i].channel_max) << t->tensors[i].name;
  ir::Graph q = g;
  Status st = quantize_graph(q, *t, {});
  EXPECT_TRUE(st.ok()) << st.message();
  // Same inputs, same seed: the same ranges.
  auto again = calibrate(model_, images, o);
  ASSERT_TRUE(again.ok());
  for (std::size_t i = 0; i < t->tensors.size(); ++i) {
    EXPECT_EQ(again->tensors[i].threshold, t->tensors[i].threshold);
    EXPECT_EQ(again->tensors[i].channel_max, t->tensors[i].channel_max);
  }
}

TEST_F(CalibrateTest, RefBackendAgreesWithCpu) {
  const std::vector<std::string> images = {image("a.png", 20, 20, 3)};
  CalibrateOptions o;
  o.num_tiles = 1;
  o.tile = 20;
  o.method = Method::kMinMax;
  auto cpu = calibrate(model_, images, o);
  o.backend = "ref";
  auto ref = calibrate(model_, images, o);
  ASSERT_TRUE(cpu.ok() && ref.ok());
  ASSERT_EQ(cpu->tensors.size(), ref->tensors.size());
  for (std::size_t i = 0; i < cpu->tensors.size(); ++i) {
    EXPECT_EQ(cpu->tensors[i].name, ref->tensors[i].name);
    EXPECT_NEAR(cpu->tensors[i].max, ref->tensors[i].max, 1e-4f * (1 + std::fabs(ref->tensors[i].max)));
    EXPECT_NEAR(cpu->tensors[i].min, ref->tensors[i].min, 1e-4f * (1 + std::fabs(ref->tensors[i].min)));
  }
}

TEST_F(CalibrateTest, BadImagesAreSkippedOrFatal) {
  const std::string bad = (dir_ / "bad.png").string();
  std::ofstream(bad) << "not a png";
  std::vector<std::string> warnings;
  CalibrateOptions o;
  o.num_tiles = 2;
  o.tile = 8;
  o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  CalibrateReport report;
  auto t = calibrate(model_, {bad, image("ok.png", 9, 9, 4)}, o, &report);
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("bad.png"), std::string::npos);
  EXPECT_EQ(report.images_skipped, 1);
  auto none = calibrate(model_, {bad}, o);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("bad.png"), std::string::npos) << none.status().message();
  engine::LoadedModel fp16 = model_;  // a compiled model is refused: the table must name the FP32 one
  ir::Graph g = *model_.graph;
  ASSERT_TRUE(round_to_fp16(g).ok());
  fp16.graph = std::make_shared<const ir::Graph>(g);
  auto compiled = calibrate(fp16, {image("ok.png", 9, 9, 4)}, o);
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("already compiled (fp16"), std::string::npos);
  o.num_tiles = 0;
  EXPECT_FALSE(calibrate(model_, {bad}, o).ok());
  o.num_tiles = 1;
  o.tile = 7;
  EXPECT_FALSE(calibrate(model_, {bad}, o).ok());
}

}  // namespace
}  // namespace resr::quant
