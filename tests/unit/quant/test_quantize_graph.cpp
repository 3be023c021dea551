// quantize_graph, round_to_fp16 and read_qtable on a small hand-built graph.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/half.h"
#include "ir/fingerprint.h"
#include "quant/migration_estimate.h"
#include "quant/quantize_graph.h"
#include "small_graph.h"

namespace resr::quant {
namespace {

CalibTable table_for(const ir::Graph& g) {
  CalibTable t;
  t.model_fingerprint = ir::graph_fingerprint(g);
  t.method = "kl";
  t.samples = 1;
  t.tile = 8;
  t.date = "2024-01-01T00:00:00Z";
  t.tensors = {{"data", 0.8f, 0.0f, 1.0f}, {"conv1_out", 2.54f, -0.5f, 3.0f}};
  return t;
}

// data -> conv1 -> conv1_out -> conv2 -> conv2_out, then conv3 reading cat(conv1_out, conv2_out) (4 + 2
// channels): conv2 and conv3 read one dense block.
ir::Graph small_graph_with_dense_block() {
  ir::Graph g = test::small_graph();
  ir::Node cat;
  cat.op = ir::Op::kConcat;
  cat.name = "cat";
  cat.inputs = {g.nodes[2].inputs[0], g.nodes[2].output};
  cat.output = g.add_value("cat", 6);
  g.values[cat.output].producer = 3;
  g.nodes.push_back(cat);
  ir::Node conv3 = test::make_conv("conv3", cat.output, g.add_value("conv3_out", 3), 6, 3, 0.125f);
  g.values[conv3.output].producer = 4;
  g.nodes.push_back(conv3);
  g.output = conv3.output;
  EXPECT_TRUE(ir::verify(g).ok()) << ir::verify(g).message();
  return g;
}

TEST(QuantizeGraph, SymmetricScales) {
  ir::Graph g = test::small_graph();
  const ir::Graph before = g;
  ASSERT_TRUE(ir::verify(g).ok());
  Status st = quantize_graph(g, table_for(g), {});
  ASSERT_TRUE(st.ok()) << st.message();
  const ir::ConvQuant& q1 = g.nodes[1].quant;
  EXPECT_EQ(q1.precision, ir::Precision::kInt8);
  EXPECT_FALSE(q1.asymmetric);
  EXPECT_FLOAT_EQ(q1.in_scale, 0.8f / 127.0f);
  EXPECT_EQ(q1.in_zero, 0);
  ASSERT_EQ(q1.weight_scales.size(), 4u);
  for (int o = 0; o < 4; ++o) {
    float m = 0;
    for (int k = 0; k < 27; ++k) m = std::max(m, std::fabs(before.nodes[1].weights[o * 27 + k]));
    EXPECT_FLOAT_EQ(q1.weight_scales[o], m / 127.0f);
  }
  const ir::ConvQuant& q2 = g.nodes[2].quant;
  EXPECT_FLOAT_EQ(q2.in_scale, 2.54f / 127.0f);
  EXPECT_EQ(q2.weight_scales[1], 1.0f);                    // an all-zero output channel
  EXPECT_EQ(g.nodes[1].weights, before.nodes[1].weights);  // weights untouched: same fingerprint
  EXPECT_EQ(ir::graph_fingerprint(g), ir::graph_fingerprint(before));
}

TEST(QuantizeGraph, AsymmetricScalesAndZeroPoints) {
  ir::Graph g = test::small_graph();
  QuantOptions o;
  o.asymmetric = true;
  ASSERT_TRUE(quantize_graph(g, table_for(g), o).ok());
  // data: [0, 1] clipped to the threshold 0.8 -> [0, 0.8], zero 0.
  EXPECT_TRUE(g.nodes[1].quant.asymmetric);
  EXPECT_FLOAT_EQ(g.nodes[1].quant.in_scale, 0.8f / 255.0f);
  EXPECT_EQ(g.nodes[1].quant.in_zero, 0);
  // conv1_out: [-0.5, 3] clipped to 2.54 -> [-0.5, 2.54]: scale 3.04 / 255, zero round(0.5 / scale) = 42.
  EXPECT_FLOAT_EQ(g.nodes[2].quant.in_scale, 3.04f / 255.0f);
  EXPECT_EQ(g.nodes[2].quant.in_zero, 42);
}

TEST(QuantizeGraph, Fp8ScalesFromTheLargestMagnitude) {
  ir::Graph g = test::small_graph();
  const ir::Graph before = g;
  QuantOptions o;
  o.precision = ir::Precision::kFp8;
  Status st = quantize_graph(g, table_for(g), o);
  ASSERT_TRUE(st.ok()) << st.message();
  const ir::ConvQuant& q1 = g.nodes[1].quant;
  EXPECT_EQ(q1.precision, ir::Precision::kFp8);
  EXPECT_FALSE(q1.asymmetric);
  EXPECT_EQ(q1.in_zero, 0);
  // Not the threshold (0.8, 2.54): the largest |x| seen, 1 for data and 3 for conv1_out, over E4M3's 448.
  EXPECT_FLOAT_EQ(q1.in_scale, 1.0f / 448.0f);
  EXPECT_FLOAT_EQ(g.nodes[2].quant.in_scale, 3.0f / 448.0f);
  for (int o = 0; o < 4; ++o) {
    float m = 0;
    for (int k = 0; k < 27; ++k) m = std::max(m, std::fabs(before.nodes[1].weights[o * 27 + k]));
    EXPECT_FLOAT_EQ(q1.weight_scales[o], m / 448.0f);
  }
  EXPECT_EQ(g.nodes[2].quant.weight_scales[1], 1.0f);  // an all-zero output channel
  EXPECT_EQ(ir::graph_fingerprint(g), ir::graph_fingerprint(before));

  ir::Graph h = test::small_graph();
  o.asymmetric = true;
  st = quantize_graph(h, table_for(h), o);
  EXPECT_NE(st.message().find("fp8 is symmetric only"), std::string::npos) << st.message();
  o.asymmetric = false;
  o.precision = ir::Precision::kFp16;
  st = quantize_graph(h, table_for(h), o);
  EXPECT_NE(st.message().find("cannot quantize to fp16"), std::string::npos) << st.message();
  EXPECT_EQ(h.nodes[1].quant.precision, ir::Precision::kFp32);
}

// A dense block: conv2 reads x, conv3 reads concat(x, x1). They share one input quantization from the union of
// their ranges (one quantized copy of the block serves both), at either precision; conv1 (another root) keeps
// its own.
TEST(QuantizeGraph, ConvsOfOneDenseBlockShareTheirInputQuantization) {
  for (const bool asymmetric : {false, true})
    for (const ir::Precision p : {ir::Precision::kFp8, ir::Precision::kInt8}) {
      if (asymmetric && p == ir::Precision::kFp8) continue;
      ir::Graph g = small_graph_with_dense_block();
      CalibTable t = table_for(g);
      t.tensors.push_back({"cat", 4.0f, -1.0f, 5.0f});
      QuantOptions o;
      o.precision = p;
      o.asymmetric = asymmetric;
      Status st = quantize_graph(g, t, o);
      ASSERT_TRUE(st.ok()) << st.message();
      const ir::ConvQuant &q2 = g.nodes[2].quant, &q3 = g.nodes[4].quant;
      EXPECT_EQ(q2.in_scale, q3.in_scale);
      EXPECT_EQ(q2.in_zero, q3.in_zero);
      if (p == ir::Precision::kFp8) {
        EXPECT_FLOAT_EQ(q2.in_scale, 5.0f / 448.0f);  // conv1_out alone would give 3 / 448
        EXPECT_FLOAT_EQ(g.nodes[1].quant.in_scale, 1.0f / 448.0f);
      } else if (!asymmetric) {
        EXPECT_FLOAT_EQ(q2.in_scale, 4.0f / 127.0f);  // the wider threshold (conv1_out alone: 2.54)
        EXPECT_FLOAT_EQ(g.nodes[1].quant.in_scale, 0.8f / 127.0f);
      } else {
        // [min(-0.5, -1), max(3, 5)] clipped to the wider threshold 4: [-1, 4], so scale 5 / 255 and zero 51.
        EXPECT_FLOAT_EQ(q2.in_scale, 5.0f / 255.0f);
        EXPECT_EQ(q2.in_zero, 51);
        EXPECT_FLOAT_EQ(g.nodes[1].quant.in_scale, 0.8f / 255.0f);
      }
    }
}

// Per-channel input scales (symmetric INT8, a table with channel maxima): f_c = max(sqrt(m_c / threshold), 1/64), the
// weight scales those of the folded weights; none asymmetric, when turned off, or from a table without maxima.
TEST(QuantizeGraph, PerChannelInputScalesFromTheChannelMaxima) {
  ir::Graph g = test::small_graph();
  CalibTable t = table_for(g);
  t.tensors[0].channel_max = {0.4f, 1.0f, 0.00001f};
  t.tensors[1].channel_max = {2.54f, 0.5f, 3.0f, 0.0f};
  ir::Graph pc = g;
  ASSERT_TRUE(quantize_graph(pc, t, {}).ok());
  const ir::ConvQuant& q1 = pc.nodes[1].quant;
  EXPECT_FLOAT_EQ(q1.in_scale, 0.8f / 127.0f);
  ASSERT_EQ(q1.in_channel_scales.size(), 3u);
  EXPECT_FLOAT_EQ(q1.in_channel_scales[0], std::sqrt(0.5f));
  EXPECT_FLOAT_EQ(q1.in_channel_scales[1], std::sqrt(1.25f));  // past the threshold: clipped later
  EXPECT_FLOAT_EQ(q1.in_channel_scales[2], 1.0f / 64.0f);      // the floor
  EXPECT_FLOAT_EQ(ir::input_channel_scale(q1, 1), 0.8f * std::sqrt(1.25f) / 127.0f);
  const std::vector<float> folded = ir::folded_int8_weights(pc.nodes[1]);
  for (int o = 0; o < 4; ++o) {
    float m = 0;
    for (int k = 0; k < 27; ++k) {
      m = std::max(m, std::fabs(folded[o * 27 + k]));
      EXPECT_EQ(folded[o * 27 + k], g.nodes[1].weights[o * 27 + k] * q1.in_channel_scales[k / 9]);
    }
    EXPECT_FLOAT_EQ(q1.weight_scales[o], m / 127.0f);
  }
  EXPECT_EQ(pc.nodes[1].weights, g.nodes[1].weights);  // weights untouched: same fingerprint
  ASSERT_EQ(pc.nodes[2].quant.in_channel_scales.size(), 4u);
  EXPECT_FLOAT_EQ(pc.nodes[2].quant.in_channel_scales[3], 1.0f / 64.0f);

  // Migration strength 1: every channel fills the range (f_c = m_c / threshold); outside (0, 1]: an error.
  ir::Graph full = g;
  QuantOptions one;
  one.channel_migration = 1.0f;
  ASSERT_TRUE(quantize_graph(full, t, one).ok());
  EXPECT_FLOAT_EQ(full.nodes[1].quant.in_channel_scales[0], 0.5f);
  EXPECT_FLOAT_EQ(full.nodes[1].quant.in_channel_scales[1], 1.25f);
  one.channel_migration = 0.0f;
  EXPECT_NE(quantize_graph(full, t, one).message().find("migration must be in (0, 1]"), std::string::npos);

  for (int variant = 0; variant < 3; ++variant) {
    ir::Graph h = g;
    QuantOptions o;
    CalibTable tv = t;
    if (variant == 0) o.channel_scales = false;
    if (variant == 1) o.asymmetric = true;
    if (variant == 2) tv.tensors[0].channel_max.clear();  // as read from a v1 table
    ASSERT_TRUE(quantize_graph(h, tv, o).ok());
    EXPECT_TRUE(h.nodes[1].quant.in_channel_scales.empty()) << variant;
    EXPECT_EQ(h.nodes[2].quant.in_channel_scales.empty(), variant != 2) << variant;
  }
}

// A dense block's readers: their channels' maxima merged (the largest of each), so that the shorter reader's
// factors are a prefix of the longer one's.
TEST(QuantizeGraph, PerChannelScalesOfADenseBlockAgree) {
  ir::Graph g = small_graph_with_dense_block();
  CalibTable t = table_for(g);
  t.tensors[1].channel_max = {2.0f, 0.5f, 3.0f, 1.0f};
  t.tensors.push_back({"cat", 4.0f, -1.0f, 5.0f, {2.5f, 0.25f, 3.0f, 1.0f, 4.0f, 0.0f}});
  ASSERT_TRUE(quantize_graph(g, t, {}).ok());
  const ir::ConvQuant &q2 = g.nodes[2].quant, &q3 = g.nodes[4].quant;
  ASSERT_EQ(q2.in_channel_scales.size(), 4u);
  ASSERT_EQ(q3.in_channel_scales.size(), 6u);
  EXPECT_TRUE(std::equal(q2.in_channel_scales.begin(), q2.in_channel_scales.end(), q3.in_channel_scales.begin()));
  EXPECT_FLOAT_EQ(q3.in_channel_scales[0], std::sqrt(2.5f / 4.0f));
  EXPECT_FLOAT_EQ(q3.in_channel_scales[1], std::sqrt(0.5f / 4.0f));
  EXPECT_FLOAT_EQ(q3.in_channel_scales[4], 1.0f);
}

// --scale-migration estimate: a dense block's readers take one strength, chosen for them together, even where each
// alone would take another; a conv outside the block takes its own. The strengths are reported by conv name.
TEST(QuantizeGraph, EstimatedMigrationIsOnePerDenseBlock) {
  ir::Graph g = small_graph_with_dense_block();
  CalibTable t = table_for(g);
  t.tensors[0].channel_max = {0.8f, 0.01f, 0.1f};
  t.tensors[1].channel_max = {2.0f, 0.02f, 0.5f, 0.005f};
  t.tensors.push_back({"cat", 4.0f, -1.0f, 8.0f, {2.5f, 0.02f, 3.0f, 0.005f, 8.0f, 0.001f}});
  // conv2's weights inversely proportional to its channels' ranges (best at strength 1, test_migration_estimate),
  // conv3's growing with them, where channel 4 is past the threshold (best at the least).
  ir::Node &conv2 = g.nodes[2], &conv3 = g.nodes[4];
  const std::vector<float>& block = t.tensors[2].channel_max;
  for (std::size_t i = 0; i < conv2.weights.size(); ++i) conv2.weights[i] = (i % 3 ? 0.1f : -0.1f) / block[i / 9 % 4];
  for (std::size_t i = 0; i < conv3.weights.size(); ++i)
    conv3.weights[i] = (i % 2 ? 0.5f : -0.7f) * std::sqrt(block[i / 9 % 6]);
  t.model_fingerprint = ir::graph_fingerprint(g);
  TensorRange merged = t.tensors[2];
  merged.threshold = 4.0f;
  const ir::Node* alone2[] = {&conv2};
  const ir::Node* alone3[] = {&conv3};
  const ir::Node* both[] = {&conv2, &conv3};
  const float a2 = choose_migration(alone2, merged, kMigrationCandidates),
              a3 = choose_migration(alone3, merged, kMigrationCandidates),
              shared = choose_migration(both, merged, kMigrationCandidates);
  ASSERT_NE(a2, a3) << shared;  // so that agreeing means something
  QuantOptions o;
  o.migration_candidates.assign(kMigrationCandidates.begin(), kMigrationCandidates.end());
  std::map<std::string, float> migrations;
  ir::Graph q = g;
  ASSERT_TRUE(quantize_graph(q, t, o, &migrations).ok());
  EXPECT_EQ(migrations.size(), 3u);
  EXPECT_EQ(migrations["conv2"], shared);
  EXPECT_EQ(migrations["conv3"], shared);
  const ir::Node* alone1[] = {&g.nodes[1]};
  EXPECT_EQ(migrations["conv1"], choose_migration(alone1, t.tensors[0], kMigrationCandidates));
  EXPECT_EQ(q.nodes[4].quant.in_channel_scales, channel_factors(merged, 6, shared));
  EXPECT_TRUE(std::equal(q.nodes[2].quant.in_channel_scales.begin(), q.nodes[2].quant.in_channel_scales.end(),
                         q.nodes[4].quant.in_channel_scales.begin()));
  // A fixed strength is reported for every conv; a candidate outside (0, 1] is refused.
  ASSERT_TRUE(quantize_graph(q = g, t, {}, &migrations).ok());
  EXPECT_EQ(migrations, (std::map<std::string, float>{{"conv1", 0.5f}, {"conv2", 0.5f}, {"conv3", 0.5f}}));
  o.migration_candidates.push_back(1.5f);
  EXPECT_NE(quantize_graph(q = g, t, o).message().find("migration must be in (0, 1]"), std::string::npos);
}

TEST(QuantizeGraph, ZeroThresholdStillGivesPositiveScales) {
  ir::Graph g = test::small_graph();
  CalibTable t = table_for(g);
  t.tensors[1] = {"conv1_out", 0.0f, 0.0f, 0.0f};
  ASSERT_TRUE(quantize_graph(g, t, {}).ok());
  EXPECT_FLOAT_EQ(g.nodes[2].quant.in_scale, 1.0f / 127.0f);
  g = test::small_graph();
  QuantOptions o;
  o.asymmetric = true;
  ASSERT_TRUE(quantize_graph(g, t, o).ok());
  EXPECT_FLOAT_EQ(g.nodes[2].quant.in_scale, 2.0f / 255.0f);  // as if the range were [-1, 1]
  EXPECT_NEAR(g.nodes[2].quant.in_zero, 127.5, 0.5);
}

TEST(QuantizeGraph, KeepListAndFp16) {
  ir::Graph g = test::small_graph();
  const ir::Graph before = g;
  QuantOptions o;
  o.per_conv = {{"conv1", ir::Precision::kFp16}, {"conv2", ir::Precision::kFp32}};
  ASSERT_TRUE(quantize_graph(g, table_for(g), o).ok());
  EXPECT_EQ(g.nodes[1].quant.precision, ir::Precision::kFp16);
  EXPECT_TRUE(g.nodes[1].quant.weight_scales.empty());
  EXPECT_EQ(g.nodes[2].quant.precision, ir::Precision::kFp32);
  EXPECT_EQ(g.nodes[2].weights, before.nodes[2].weights);
  // conv1's weights are now binary16 values, within half an fp16 ulp of the originals.
  for (std::size_t i = 0; i < g.nodes[1].weights.size(); ++i)
    EXPECT_NEAR(g.nodes[1].weights[i], before.nodes[1].weights[i],
                std::fabs(before.nodes[1].weights[i]) / 2048 + 1e-7f);
  // Only conv2 kept: conv1 needs no entry for 'data' to be absent... but conv2's input may be missing.
  g = test::small_graph();
  CalibTable t = table_for(g);
  t.tensors.pop_back();  // no conv1_out
  o.per_conv = {{"conv2", ir::Precision::kFp32}};
  EXPECT_TRUE(quantize_graph(g, t, o).ok());
}

TEST(QuantizeGraph, Errors) {
  ir::Graph g = test::small_graph();
  CalibTable t = table_for(g);
  t.model_fingerprint ^= 1;
  Status st = quantize_graph(g, t, {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("calibration table was made for model " + ir::fingerprint_hex(t.model_fingerprint) +
                              ", this model is " + ir::fingerprint_hex(ir::graph_fingerprint(g))),
            std::string::npos)
      << st.message();
  t = table_for(g);  // a line for a tensor no conv reads: added by hand, not ignored
  t.tensors.push_back(TensorRange{"nosuch", 1.0f, -1.0f, 1.0f});
  st = quantize_graph(g, t, {});
  EXPECT_NE(st.message().find("range for tensor 'nosuch', which no convolution of this model reads"), std::string::npos)
      << st.message();
  t = table_for(g);
  t.tensors.pop_back();
  st = quantize_graph(g, t, {});
  EXPECT_NE(st.message().find("no range for tensor 'conv1_out' (input of conv 'conv2')"), std::string::npos)
      << st.message();
  EXPECT_EQ(g.nodes[1].quant.precision, ir::Precision::kFp32);  // nothing changed on failure
  QuantOptions o;
  o.per_conv = {{"conv9", ir::Precision::kFp16}};
  st = quantize_graph(g, table_for(g), o);
  EXPECT_NE(st.message().find("'conv9'"), std::string::npos) << st.message();
  CalibTable wrong = table_for(g);
  wrong.tensors[0].channel_max = {1.0f, 2.0f};  // 'data' has 3 channels
  st = quantize_graph(g, wrong, {});
  EXPECT_NE(st.message().find("2 channel maxima for tensor 'data' of 3 channels"), std::string::npos) << st.message();
  EXPECT_EQ(g.nodes[1].quant.precision, ir::Precision::kFp32);
}

TEST(QuantizeGraph, MixedInt8AndFp8EachByItsOwnScheme) {
  for (const bool asymmetric : {false, true}) {
    ir::Graph g = test::small_graph();
    QuantOptions o;
    o.asymmetric = asymmetric;  // applies to the INT8 conv only
    o.per_conv = {{"conv2", ir::Precision::kFp8}};
    Status st = quantize_graph(g, table_for(g), o);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(g.nodes[1].quant.precision, ir::Precision::kInt8);
    EXPECT_EQ(g.nodes[1].quant.asymmetric, asymmetric);
    EXPECT_FLOAT_EQ(g.nodes[1].quant.in_scale, asymmetric ? 0.8f / 255.0f : 0.8f / 127.0f);
    EXPECT_EQ(g.nodes[2].quant.precision, ir::Precision::kFp8);
    EXPECT_FALSE(g.nodes[2].quant.asymmetric);
    EXPECT_FLOAT_EQ(g.nodes[2].quant.in_scale, 3.0f / 448.0f);
  }
  // And the other way round: FP8 by default, one conv INT8.
  ir::Graph g = test::small_graph();
  QuantOptions o;
  o.precision = ir::Precision::kFp8;
  o.per_conv = {{"conv1", ir::Precision::kInt8}};
  ASSERT_TRUE(quantize_graph(g, table_for(g), o).ok());
  EXPECT_EQ(g.nodes[1].quant.precision, ir::Precision::kInt8);
  EXPECT_FLOAT_EQ(g.nodes[1].quant.in_scale, 0.8f / 127.0f);  // INT8's threshold, not FP8's largest |x|
  EXPECT_EQ(g.nodes[2].quant.precision, ir::Precision::kFp8);
  EXPECT_FLOAT_EQ(g.nodes[2].quant.in_scale, 3.0f / 448.0f);
}

TEST(RoundToFp16, RoundsEveryConvNotInt8) {
  ir::Graph g = test::small_graph();
  g.nodes[1].weights[0] = 1.0f + 1.0f / 4096;  // between two fp16 values: rounds to even (1.0)
  ASSERT_TRUE(round_to_fp16(g).ok());
  EXPECT_EQ(g.nodes[1].weights[0], 1.0f);
  EXPECT_EQ(g.nodes[2].quant.precision, ir::Precision::kFp16);
  g = test::small_graph();
  g.nodes[1].weights[0] = 1e6f;
  EXPECT_FALSE(round_to_fp16(g).ok());
}

TEST(ReadQtable, ParsesAndRejects) {
  const std::string p = ::testing::TempDir() + "/resr_qtable_" + std::to_string(::getpid()) + ".txt";
  std::ofstream(p) << "# keep the ends precise\nconv1 fp32\n\n  conv2   fp16  # the last one\n";
  auto k = read_qtable(p);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->size(), 2u);
  EXPECT_EQ(k->at("conv2"), ir::Precision::kFp16);
  std::ofstream(p) << "conv1 fp32\nconv1 fp16\n";
  EXPECT_NE(read_qtable(p).status().message().find("line 2: 'conv1' listed twice"), std::string::npos);
  std::ofstream(p) << "conv1 int8\nconv2 fp8\n";  // the quantized precisions choose a conv's scheme
  k = read_qtable(p);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->at("conv1"), ir::Precision::kInt8);
  EXPECT_EQ(k->at("conv2"), ir::Precision::kFp8);
  std::ofstream(p) << "conv1 int4\n";
  EXPECT_NE(read_qtable(p).status().message().find("line 1: precision 'int4'"), std::string::npos);
  std::ofstream(p) << "conv1\n";
  EXPECT_NE(read_qtable(p).status().message().find("line 1: expected"), std::string::npos);
  std::filesystem::remove(p);
  EXPECT_FALSE(read_qtable(p).ok());
}

}  // namespace
}  // namespace resr::quant
