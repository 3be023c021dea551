// Every committed fixture (tests/data/fixtures, made by scripts/make_fixtures.py with PyTorch) loads through
// the model loader, is recognised as what it is (architecture, scale, counts), and the ref and cpu backends
// reproduce PyTorch's output within 1e-4. Plus detection errors and the denoise blend.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/backend_factory.h"
#include "engine/compiled_model.h"
#include "engine/model_loader.h"
#include "formats/file_bytes.h"
#include "formats/ncnn_reader.h"
#include "formats/ncnn_writer.h"
#include "formats/onnx_reader.h"
#include "formats/pth_reader.h"
#include "formats/safetensors_reader.h"
#include "models/blend.h"
#include "models/detect.h"
#include "models/esrgan_layout.h"
#include "support/compare.h"
#include "support/npy.h"
#include "support/paths.h"
#include "support/temp_dir.h"

namespace resr {
namespace {

struct FixtureCase {
  const char* file;  // under tests/data/fixtures
  const char* stem;  // <stem>.out.npy
  const char* architecture;
  int scale, blocks, features, growth;
  const char* detected;  // substring of the weight formats' detection line ("" for graph formats)
};

Tensor load_input() {
  auto in = test::read_npy_f32(test::data_path("fixtures/input_8x12.npy"));
  RESR_ASSERT(in.has_value() && in->shape.size() == 3);
  Tensor t(int(in->shape[0]), int(in->shape[1]), int(in->shape[2]));
  std::copy(in->data.begin(), in->data.end(), t.data());
  return t;
}

// The ref backend's output of `graph` on the fixture input against PyTorch's (<stem>.out.npy): the largest
// difference, or infinity when either cannot be had.
double error_against_pytorch(const ir::Graph& graph, const std::string& stem) {
  auto golden = test::read_npy_f32(test::data_path("fixtures/" + stem + ".out.npy"));
  auto exe = engine::make_executable(std::make_shared<const ir::Graph>(graph), "ref");
  if (!golden.has_value() || !exe.ok()) return INFINITY;
  auto out = (*exe)->run(load_input());
  if (!out.ok() || std::size_t(out->numel()) != golden->data.size()) return INFINITY;
  return test::max_abs_error(out->data(), golden->data.data(), std::size_t(out->numel()));
}

class FixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(FixtureTest, DetectedAndMatchesPyTorch) {
  const FixtureCase& c = GetParam();
  const std::string path = test::data_path(std::string("fixtures/") + c.file);
  if (std::string(c.file).find(".onnx") != std::string::npos && !formats::onnx_supported())
    GTEST_SKIP() << "built without ONNX support";
  engine::ModelSource src;
  src.path = path;
  auto model = engine::load_model(src);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->summary.architecture, c.architecture);
  EXPECT_EQ(model->summary.scale, c.scale);
  EXPECT_EQ(model->summary.blocks, c.blocks);
  EXPECT_EQ(model->summary.features, c.features);
  EXPECT_EQ(model->summary.growth, c.growth);
  EXPECT_EQ(model->summary.input_multiple, std::string(c.stem) == "rrdb_x2"   ? 2
                                           : std::string(c.stem) == "rrdb_x1" ? 4
                                                                              : 1);
  EXPECT_NE(model->detected.find(c.detected), std::string::npos) << model->detected;
  auto golden = test::read_npy_f32(test::data_path(std::string("fixtures/") + c.stem + ".out.npy"));
  ASSERT_TRUE(golden.has_value());
  const Tensor input = load_input();
  for (const char* backend : {"ref", "cpu"}) {
    auto exe = engine::make_executable(model->graph, backend);
    ASSERT_TRUE(exe.ok()) << exe.status().message();
    auto out = (*exe)->run(input);
    ASSERT_TRUE(out.ok()) << out.status().message();
    ASSERT_EQ(out->c(), golden->shape[0]);
    ASSERT_EQ(out->h(), golden->shape[1]);
    ASSERT_EQ(out->w(), golden->shape[2]);
    const double max_err = test::max_abs_error(out->data(), golden->data.data(), std::size_t(out->numel()));
    EXPECT_LE(max_err, 1e-4) << c.file << " on " << backend;
  }
  // As the engine runs it: RRDBNets split at their resolution cut, the tail on sub-tiles.
  auto compiled = engine::CompiledModel::compile(*model, "cpu", /*split=*/true, /*sub_tile=*/4);
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  auto out = compiled->run_tile(input);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->numel(), std::int64_t(golden->data.size()));
  EXPECT_LE(test::max_abs_error(out->data(), golden->data.data(), std::size_t(out->numel())), 1e-4) << c.file;
}

std::string fixture_name(const ::testing::TestParamInfo<FixtureCase>& info) {
  std::string s = info.param.file;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

constexpr const char* kRrdb = "RRDBNet";
constexpr const char* kSrvgg = "SRVGGNetCompact";

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FixtureTest,
    ::testing::Values(FixtureCase{"rrdb_x4.pth", "rrdb_x4", kRrdb, 4, 1, 8, 4,
                                  "RRDBNet (scale 4, num_block 1, num_feat 8, num_grow_ch 4)"},
                      FixtureCase{"rrdb_x4.safetensors", "rrdb_x4", kRrdb, 4, 1, 8, 4, "RRDBNet (scale 4"},
                      FixtureCase{"rrdb_x4.onnx", "rrdb_x4", kRrdb, 4, 1, 8, 4, ""},
                      FixtureCase{"rrdb_x4.dynamic.onnx", "rrdb_x4", kRrdb, 4, 1, 8, 4, ""},
                      FixtureCase{"rrdb_x2.pth", "rrdb_x2", kRrdb, 2, 1, 8, 4, "RRDBNet (scale 2, num_block 1"},
                      FixtureCase{"rrdb_x2.safetensors", "rrdb_x2", kRrdb, 2, 1, 8, 4, "RRDBNet (scale 2"},
                      FixtureCase{"rrdb_x2.onnx", "rrdb_x2", kRrdb, 2, 1, 8, 4, ""},
                      FixtureCase{"rrdb_x1.pth", "rrdb_x1", kRrdb, 1, 1, 8, 4, "RRDBNet (scale 1, num_block 1"},
                      FixtureCase{"rrdb_x1.safetensors", "rrdb_x1", kRrdb, 1, 1, 8, 4, "RRDBNet (scale 1"},
                      FixtureCase{"rrdb_x1.onnx", "rrdb_x1", kRrdb, 1, 1, 8, 4, ""},
                      // The original ESRGAN layout (model.0, model.1.sub.N.RDBk.convj.0, ...), 0 to 3 upsamplers.
                      FixtureCase{"esrgan_x1.pth", "esrgan_x1", kRrdb, 1, 2, 8, 4,
                                  "RRDBNet (ESRGAN layout, scale 1, num_block 2, num_feat 8, num_grow_ch 4)"},
                      FixtureCase{"esrgan_x2.pth", "esrgan_x2", kRrdb, 2, 2, 8, 4, "RRDBNet (ESRGAN layout, scale 2"},
                      FixtureCase{"esrgan_x4.pth", "esrgan_x4", kRrdb, 4, 2, 8, 4, "RRDBNet (ESRGAN layout, scale 4"},
                      // The legacy (pre-1.6) torch.save format, as ESRGAN-era community models ship.
                      FixtureCase{"esrgan_x4.legacy.pth", "esrgan_x4", kRrdb, 4, 2, 8, 4, "ESRGAN layout, scale 4"},
                      // BSRGAN's RRDB_trunk layout: x2 is one nearest upsample, no pixel-unshuffle.
                      FixtureCase{"trunk_x2.pth", "trunk_x2", kRrdb, 2, 2, 8, 4, "RRDBNet (RRDB_trunk layout, scale 2"},
                      FixtureCase{"trunk_x4.pth", "trunk_x4", kRrdb, 4, 2, 8, 4, "RRDBNet (RRDB_trunk layout, scale 4"},
                      // A Lightning checkpoint: state_dict, every key under "model.".
                      FixtureCase{"trunk_x4.lightning.pth", "trunk_x4", kRrdb, 4, 2, 8, 4,
                                  "RRDB_trunk layout, scale 4"},
                      FixtureCase{"esrgan_x4.safetensors", "esrgan_x4", kRrdb, 4, 2, 8, 4, "ESRGAN layout, scale 4"},
                      FixtureCase{"esrgan_x8.pth", "esrgan_x8", kRrdb, 8, 2, 8, 4, "RRDBNet (ESRGAN layout, scale 8"},
                      FixtureCase{"srvgg_x4_prelu.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0,
                                  "SRVGGNetCompact (scale 4, num_conv 2, num_feat 8, act prelu)"},
                      FixtureCase{"srvgg_x4_prelu.params.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.top.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.module.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.deflate.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.fp16.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.legacy.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.legacy_fp16.pth", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.safetensors", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, "act prelu"},
                      FixtureCase{"srvgg_x4_prelu.onnx", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, ""},
                      FixtureCase{"srvgg_x4_prelu.dynamic.onnx", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, ""},
                      FixtureCase{"srvgg_x4_prelu.fp16.onnx", "srvgg_x4_prelu", kSrvgg, 4, 2, 8, 0, ""},
                      FixtureCase{"srvgg_x2_relu.pth", "srvgg_x2_relu", kSrvgg, 2, 2, 8, 0, "act relu (assumed"},
                      FixtureCase{"srvgg_x2_relu.safetensors", "srvgg_x2_relu", kSrvgg, 2, 2, 8, 0, "act relu"},
                      FixtureCase{"srvgg_x2_relu.onnx", "srvgg_x2_relu", kSrvgg, 2, 2, 8, 0, ""},
                      FixtureCase{"srvgg_x1_leakyrelu.onnx", "srvgg_x1_leakyrelu", kSrvgg, 1, 2, 8, 0, ""}),
    fixture_name);

// LeakyReLU SRVGG weights look exactly like ReLU ones: with the activation given, they match PyTorch.
TEST(Detect, SrvggLeakyReluWhenTold) {
  auto w = formats::read_pth(test::data_path("fixtures/srvgg_x1_leakyrelu.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  models::DetectOptions o;
  o.srvgg_act = models::SrvggConfig::Act::kLeakyRelu;
  auto m = models::build_from_weights(*w, o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->description, "SRVGGNetCompact (scale 1, num_conv 2, num_feat 8, act leakyrelu)");
  EXPECT_LE(error_against_pytorch(m->graph, "srvgg_x1_leakyrelu"), 1e-4);
}

TEST(Detect, UnknownArchitectureListsKeysAndExpectations) {
  formats::WeightMap w;
  w["conv1.weight"] = formats::WeightTensor{{4, 3, 9, 9}, std::vector<float>(4 * 3 * 81), "F32"};
  w["conv1.bias"] = formats::WeightTensor{{4}, std::vector<float>(4), "F32"};
  auto m = models::build_from_weights(w);
  ASSERT_FALSE(m.ok());
  const std::string msg = m.status().message();
  EXPECT_NE(msg.find("unknown architecture"), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv1.weight [4, 3, 9, 9]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected RRDBNet (conv_first"), std::string::npos) << msg;
  EXPECT_NE(msg.find("SRVGGNetCompact"), std::string::npos) << msg;
}

TEST(Detect, WrongShapesNameTheTensor) {
  auto w = formats::read_pth(test::data_path("fixtures/rrdb_x4.pth"));
  ASSERT_TRUE(w.ok());
  {
    formats::WeightMap bad = *w;
    bad["body.0.rdb1.conv2.weight"].shape = {4, 12 * 9};
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().message(), "RRDBNet: tensor 'body.0.rdb1.conv2.weight': expected [4, 12, 3, 3], got [4, 108]");
  }
  {
    formats::WeightMap bad = *w;
    bad.erase("conv_hr.bias");
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("missing tensor 'conv_hr.bias'"), std::string::npos) << m.status().message();
  }
  {
    formats::WeightMap bad = *w;
    bad["extra.weight"] = formats::WeightTensor{{1}, {0.0f}, "F32"};
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("unexpected tensor 'extra.weight'"), std::string::npos);
  }
  {
    formats::WeightMap bad = *w;
    bad["conv_first.weight"].shape = {8, 6, 3, 3};
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("expected 3, 12 or 48 input channels"), std::string::npos);
  }
  auto s = formats::read_pth(test::data_path("fixtures/srvgg_x4_prelu.pth"));
  ASSERT_TRUE(s.ok());
  formats::WeightMap bad = *s;
  bad["body.6.weight"].shape = {40, 8, 3, 3};
  auto m = models::build_from_weights(bad);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("40 output channels is not 3 * s * s"), std::string::npos);
}

// BSRGAN's layout with a tensor BasicSR has no name for is named; a common prefix is dropped only when what is
// left is a known layout, and the error then shows the keys as the file has them.
TEST(Detect, RrdbTrunkLayoutAndCommonPrefixes) {
  auto w = formats::read_pth(test::data_path("fixtures/trunk_x4.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  {
    formats::WeightMap bad = *w;
    bad["RRDB_trunk.0.conv1x1.weight"] = formats::WeightTensor{{1}, {0.0f}, "F32"};
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("RRDB_trunk layout: unexpected tensor 'RRDB_trunk.0.conv1x1.weight'"),
              std::string::npos)
        << m.status().message();
  }
  {
    formats::WeightMap prefixed;
    for (const auto& [k, t] : *w) prefixed["generator." + k] = t;
    auto m = models::build_from_weights(prefixed);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->scale, 4);
  }
  {
    formats::WeightMap unknown;
    for (const auto& [k, t] : *w) unknown["generator." + k + "x"] = t;
    unknown["discriminator.conv0.weight"] = formats::WeightTensor{{1}, {0.0f}, "F32"};
    auto m = models::build_from_weights(unknown);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("unknown architecture: found "), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("discriminator.conv0.weight"), std::string::npos) << m.status().message();
  }
}

// A GAN checkpoint holds the generator beside the discriminator ("net_g." / "net_d.", or "generator." /
// "discriminator."), often with an EMA copy, and scalars such as an EMA decay: the one network that is a known
// layout is read (it was "unknown architecture"), the EMA copy first; two candidates are named.
TEST(Detect, TheGeneratorOfAGanCheckpoint) {
  auto w = formats::read_pth(test::data_path("fixtures/trunk_x4.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  formats::WeightMap gan;
  for (const auto& [k, t] : *w) gan["net_g." + k] = t;
  gan["net_d.conv0_0.weight"] = formats::WeightTensor{{4, 3, 3, 3}, std::vector<float>(108), "F32"};
  gan["ema_decay"] = formats::WeightTensor{{}, {0.999f}, "F32"};
  auto m = models::build_from_weights(gan);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->scale, 4);
  EXPECT_NE(m->description.find("the network under 'net_g.'"), std::string::npos) << m->description;
  // With an EMA copy (weights changed, so the pick is seen in the graph's constants): the EMA one.
  formats::WeightMap with_ema = gan;
  for (const auto& [k, t] : *w) {
    formats::WeightTensor scaled = t;
    for (float& v : scaled.data) v *= 0.5f;
    with_ema["net_g_ema." + k] = scaled;
  }
  m = models::build_from_weights(with_ema);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_NE(m->description.find("the network under 'net_g_ema.'"), std::string::npos) << m->description;
  // Deeper: a wrapper inside the GAN's dict, a DataParallel prefix inside a network; "schema." is no EMA.
  formats::WeightMap deeper;
  for (const auto& [k, t] : *w) {
    deeper["generator.params_ema." + k] = t;
    deeper["generator.params." + k] = t;
  }
  m = models::build_from_weights(deeper);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_NE(m->description.find("the network under 'generator.params_ema.'"), std::string::npos) << m->description;
  formats::WeightMap parallel;
  for (const auto& [k, t] : *w) parallel["net_g.module." + k] = t;
  m = models::build_from_weights(parallel);
  ASSERT_TRUE(m.ok()) << m.status().message();
  formats::WeightMap schema;
  for (const auto& [k, t] : *w) schema["schema." + k] = schema["model." + k] = t;
  m = models::build_from_weights(schema);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "several networks in the file ('model.', 'schema.'); save the one to run alone");
  formats::WeightMap two = gan;
  for (const auto& [k, t] : *w) two["net_g2." + k] = t;
  m = models::build_from_weights(two);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "several networks in the file ('net_g.', 'net_g2.'); save the one to run alone");
}

// SRVGGNetCompact with a scalar beside its body (an EMA decay) was an "unknown architecture".
TEST(Detect, ScalarsBesideTheWeightsAreLeftOut) {
  auto w = formats::read_pth(test::data_path("fixtures/srvgg_x4_prelu.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  (*w)["ema_decay"] = formats::WeightTensor{{}, {0.999f}, "F32"};
  auto m = models::build_from_weights(*w);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->description, "SRVGGNetCompact (scale 4, num_conv 2, num_feat 8, act prelu)");
}

// x8 RRDBNet with BasicSR's names (conv_up3 after a third nearest x2, as community x8 models are trained) was
// refused ("unexpected tensor 'conv_up3.weight'"): the ESRGAN-layout x8 fixture renamed gives PyTorch's output.
TEST(Detect, BasicsrNamedX8HasAThirdUpsamplingConv) {
  auto w = formats::read_pth(test::data_path("fixtures/esrgan_x8.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  auto renamed = models::esrgan_to_basicsr(*w);
  ASSERT_TRUE(renamed.ok()) << renamed.status().message();
  ASSERT_EQ(renamed->count("conv_up3.weight"), 1u);
  auto m = models::build_from_weights(*renamed);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->description, "RRDBNet (scale 8, num_block 2, num_feat 8, num_grow_ch 4)");
  EXPECT_LE(error_against_pytorch(m->graph, "esrgan_x8"), 1e-4);
}

TEST(Detect, EsrganLayoutsItCannotMapAreNamed) {
  auto w = formats::read_pth(test::data_path("fixtures/esrgan_x4.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  const formats::WeightTensor one{{1}, {0.0f}, "F32"};
  {  // ESRGAN+: a 1x1 conv in each dense block
    formats::WeightMap bad = *w;
    bad["model.1.sub.0.RDB1.conv1x1.weight"] = one;
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("unexpected tensor 'model.1.sub.0.RDB1.conv1x1.weight'"), std::string::npos)
        << m.status().message();
  }
  {  // a pixel-shuffle upsampler: its conv sits at model.2, not after an Upsample at model.2
    formats::WeightMap bad = *w;
    bad["model.2.weight"] = bad["model.3.weight"];
    bad["model.2.bias"] = bad["model.3.bias"];
    bad.erase("model.3.weight");
    bad.erase("model.3.bias");
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("model.2, model.6, model.8, model.10"), std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find("pixel-shuffle"), std::string::npos) << m.status().message();
  }
  {  // an index written with a leading zero would alias another key: refused
    formats::WeightMap bad = *w;
    bad["model.00.weight"] = bad["model.0.weight"];
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("unexpected tensor 'model.00.weight'"), std::string::npos)
        << m.status().message();
  }
  {  // a wrong shape is still found, under BasicSR's name
    formats::WeightMap bad = *w;
    bad["model.1.sub.1.RDB3.conv2.0.weight"].shape = {4, 12, 1, 9};
    auto m = models::build_from_weights(bad);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().message(),
              "RRDBNet (ESRGAN layout): tensor 'body.1.rdb3.conv2.weight': expected [4, 12, 3, 3], got [4, 12, 1, 9]");
  }
  // Real-ESRGAN's names keep exactly two upsampling convs: one missing is a damaged file, not a x2 model.
  auto basicsr = formats::read_pth(test::data_path("fixtures/rrdb_x4.pth"));
  ASSERT_TRUE(basicsr.ok());
  basicsr->erase("conv_up2.weight");
  basicsr->erase("conv_up2.bias");
  auto m = models::build_from_weights(*basicsr);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "RRDBNet: missing tensor 'conv_up2.weight'");
}

TEST(Blend, DenoiseStrengthMixesWeights) {
  auto a = engine::read_model_graph(test::data_path("fixtures/srvgg_x4_prelu.pth"));
  ASSERT_TRUE(a.ok());
  ir::Graph b = *a;
  for (ir::Node& n : b.nodes)
    for (float& x : n.weights) x = 0.0f;
  auto g = models::blend_graphs(*a, b, 0.25f);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_FLOAT_EQ(g->nodes[1].weights[5], 0.25f * a->nodes[1].weights[5]);
  EXPECT_EQ(g->nodes[1].bias, a->nodes[1].bias);
  auto other = engine::read_model_graph(test::data_path("fixtures/srvgg_x2_relu.pth"));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(models::blend_graphs(*a, *other, 0.5f).ok());
  // A layer that differs is shown with its channels (the message said only "structures differ").
  ir::Graph narrower = *a;
  std::size_t first_conv = 0;
  while (narrower.nodes[first_conv].op != ir::Op::kConv2d) ++first_conv;
  narrower.nodes[first_conv].conv.out_channels = 6;
  auto differ = models::blend_graphs(*a, narrower, 0.5f);
  ASSERT_FALSE(differ.ok());
  EXPECT_NE(differ.status().message().find("Conv2d 3->8 3x3 vs '"), std::string::npos) << differ.status().message();
  EXPECT_NE(differ.status().message().find("Conv2d 3->6 3x3): structures differ"), std::string::npos)
      << differ.status().message();
  // Through the loader: dn 1 is the model itself; dn 0 is the other one; the name rule needs --dn-model.
  engine::ModelSource src;
  src.path = test::data_path("fixtures/srvgg_x4_prelu.pth");
  src.dn_model = test::data_path("fixtures/srvgg_x4_prelu.fp16.pth");
  src.denoise_strength = 0.5f;
  auto m = engine::load_model(src);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->dn_path, src.dn_model);
  src.dn_model.clear();
  auto e = engine::load_model(src);
  ASSERT_FALSE(e.ok());
  // The library's names too (it named only the CLI's flags).
  EXPECT_NE(e.status().message().find("-dn (denoise_strength) needs --dn-model (dn_model)"), std::string::npos)
      << e.status().message();
  src.dn_model = test::data_path("fixtures/srvgg_x2_relu.pth");
  e = engine::load_model(src);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("structure"), std::string::npos) << e.status().message();
}

TEST(Loader, FindsEveryFormatByName) {
  for (const char* name : {"rrdb_x2", "srvgg_x4_prelu"}) {
    engine::ModelSource src;
    src.path = test::data_path("fixtures");
    src.name = name;
    auto m = engine::load_model(src);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->format, "pth");  // .param first, then .pth: the first found wins
  }
  auto f = engine::detect_model_format(test::data_path("fixtures/srvgg_x4_prelu.onnx"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, "onnx");
}

// The bytes win over the extension: a .pth saved as .safetensors (and the reverse) is read as what it is, an image
// or an empty file is named as such; each was a reader's complaint ("not a zip archive ... truncated?", "ONNX model
// has no graph", a missing .bin for an empty .param).
TEST(Loader, TheFirstBytesWinOverTheExtension) {
  const test::ScopedTempDir tmp("resr_loader_");
  std::filesystem::create_directories(tmp.path());
  const auto copy = [&](const std::string& from, const std::string& to) {
    std::filesystem::copy_file(from, tmp.path() / to);
    return (tmp.path() / to).string();
  };
  auto f = engine::detect_model_format(copy(test::data_path("fixtures/srvgg_x4_prelu.pth"), "a.safetensors"));
  EXPECT_EQ(f.ok() ? *f : f.status().message(), "pth");
  f = engine::detect_model_format(copy(test::data_path("fixtures/srvgg_x4_prelu.safetensors"), "b.pth"));
  EXPECT_EQ(f.ok() ? *f : f.status().message(), "safetensors");
  auto m = engine::read_model_graph((tmp.path() / "b.pth").string());
  EXPECT_TRUE(m.ok()) << m.status().message();
  const std::string image = copy(test::data_path("x4fast_37x29.in.png"), "c.pth");
  f = engine::detect_model_format(image);
  EXPECT_EQ(f.ok() ? *f : f.status().message(), image + ": a PNG image, not a model file");
  // "MM" alone is no TIFF (the magic is "MM\0*"): the reader's own complaint.
  std::ofstream(tmp.path() / "mm.pth") << "MM and more";
  f = engine::detect_model_format((tmp.path() / "mm.pth").string());
  EXPECT_EQ(f.ok() ? *f : f.status().message(), "pth");
  for (const char* name : {"d.onnx", "e.param"}) {
    std::ofstream(tmp.path() / name).close();
    const std::string empty = (tmp.path() / name).string();
    f = engine::detect_model_format(empty);
    EXPECT_EQ(f.ok() ? *f : f.status().message(), empty + ": empty file (0 bytes), not a model");
  }
}

// A NaN weight made every pixel NaN, written as a black image with exit 0.
TEST(Loader, ANonFiniteWeightIsRefused) {
  const test::ScopedTempDir tmp("resr_loader_");
  std::filesystem::create_directories(tmp.path());
  auto w = formats::read_pth(test::data_path("fixtures/srvgg_x4_prelu.pth"));
  ASSERT_TRUE(w.ok()) << w.status().message();
  (*w)["body.2.weight"].data[7] = std::nanf("");
  const std::string path = (tmp.path() / "nan.safetensors").string();
  ASSERT_TRUE(formats::write_safetensors(path, *w, false).ok());
  auto g = engine::read_model_graph(path);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message(), path + ": layer 'body.2' holds a NaN weight (a corrupt or diverged model)");
  // The slope of a LeakyReLU fused into its conv too (ONNX's alpha; 0.1 in the fixture, the only float 0.1 there).
  if (!formats::onnx_supported()) return;
  auto bytes = formats::read_file_bytes(test::data_path("fixtures/srvgg_x1_leakyrelu.onnx"));
  ASSERT_TRUE(bytes.ok());
  const std::uint8_t tenth[4] = {0xcd, 0xcc, 0xcc, 0x3d}, nan[4] = {0x00, 0x00, 0xc0, 0x7f};
  int replaced = 0;
  for (std::size_t i = 0; i + 4 <= bytes->size(); ++i)
    if (std::equal(tenth, tenth + 4, bytes->begin() + long(i))) {
      std::copy(nan, nan + 4, bytes->begin() + long(i));
      ++replaced;
    }
  ASSERT_GT(replaced, 0);
  const std::string onnx = (tmp.path() / "nan_slope.onnx").string();
  std::ofstream(onnx, std::ios::binary).write(reinterpret_cast<const char*>(bytes->data()), long(bytes->size()));
  g = engine::read_model_graph(onnx);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("holds a NaN weight"), std::string::npos) << g.status().message();
}

// resr convert --to ncnn: the written .param/.bin read back to the same graph; fp32 storage is exact.
TEST(NcnnWriter, RoundTripThroughTheReader) {
  for (const char* file : {"rrdb_x2.pth", "rrdb_x1.onnx", "srvgg_x4_prelu.pth", "srvgg_x2_relu.safetensors"}) {
    auto g = engine::read_model_graph(test::data_path(std::string("fixtures/") + file));
    ASSERT_TRUE(g.ok()) << g.status().message();
    const std::shared_ptr<const ir::Graph> original = std::make_shared<const ir::Graph>(*g);
    auto ref = engine::make_executable(original, "ref");
    ASSERT_TRUE(ref.ok());
    auto want = (*ref)->run(load_input());
    ASSERT_TRUE(want.ok());
    for (bool fp16 : {false, true}) {
      const formats::NcnnFiles f = formats::serialize_ncnn_model(*g, fp16);
      auto back = formats::parse_ncnn_model(f.param, f.bin);
      ASSERT_TRUE(back.ok()) << file << ": " << back.status().message() << "\n" << f.param;
      ASSERT_EQ(back->nodes.size(), g->nodes.size()) << file;
      for (std::size_t i = 0; i < g->nodes.size(); ++i) {
        EXPECT_EQ(back->nodes[i].op, g->nodes[i].op);
        EXPECT_EQ(back->nodes[i].conv.activation, g->nodes[i].conv.activation);
        if (!fp16) {
          EXPECT_EQ(back->nodes[i].weights, g->nodes[i].weights);
        }
      }
      auto exe = engine::make_executable(std::make_shared<const ir::Graph>(std::move(*back)), "cpu");
      ASSERT_TRUE(exe.ok());
      auto got = (*exe)->run(load_input());
      ASSERT_TRUE(got.ok());
      const double max_err = test::max_abs_error(got->data(), want->data(), std::size_t(got->numel()));
      EXPECT_LE(max_err, fp16 ? 2e-2 : 1e-5) << file << (fp16 ? " fp16" : " fp32");
    }
  }
}

}  // namespace
}  // namespace resr
