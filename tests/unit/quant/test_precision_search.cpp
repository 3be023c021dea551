// search_precision on the small graph: a conv whose input range is badly calibrated must be ranked first and
// kept; the targets at both ends give all-INT8 and all-FP32; the curve is measured, sorted and consistent.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>

#include "ir/fingerprint.h"
#include "quant/precision_search.h"
#include "small_graph.h"

namespace resr::quant {
namespace {

CalibTable table_with_bad_conv2_input(const ir::Graph& g) {
  CalibTable t;
  t.model_fingerprint = ir::graph_fingerprint(g);
  t.method = "minmax";
  t.samples = 1;
  t.tile = 12;
  t.date = "2024-01-01T00:00:00Z";
  // conv1's input (the image) is well covered; conv2's input is clipped far below its real range.
  t.tensors = {{"data", 1.0f, 0.0f, 1.0f}, {"conv1_out", 0.05f, -0.5f, 3.0f}};
  return t;
}

std::vector<Tensor> samples() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<Tensor> s;
  for (int i = 0; i < 3; ++i) {
    Tensor t(3, 12, 12);
    for (std::int64_t k = 0; k < t.numel(); ++k) t.data()[k] = u(rng);
    s.push_back(std::move(t));
  }
  return s;
}

TEST(PrecisionSearch, RanksTheBadlyCalibratedConvFirstAndKeepsIt) {
  const ir::Graph g = test::small_graph();
  const CalibTable table = table_with_bad_conv2_input(g);
  SearchOptions o;
  o.target_psnr_db = 150;  // only all-FP32 reaches it
  auto all = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->ranking.size(), 2u);
  EXPECT_EQ(all->ranking[0], "conv2");
  EXPECT_TRUE(all->reached);
  EXPECT_EQ(all->kept, 2);
  EXPECT_EQ(all->per_conv.size(), 2u);
  EXPECT_DOUBLE_EQ(all->quantized_share, 0.0);
  ASSERT_GE(all->curve.size(), 2u);
  for (std::size_t i = 1; i < all->curve.size(); ++i)
    EXPECT_GE(all->curve[i - 1].quantized_share, all->curve[i].quantized_share);
  // The point with only conv2 kept: conv1's share of the multiply-adds (3->4 vs 4->2 at one size: 12 vs 8).
  const CurvePoint* one = nullptr;
  for (const CurvePoint& p : all->curve)
    if (p.kept == 1) one = &p;
  ASSERT_NE(one, nullptr);
  EXPECT_NEAR(one->quantized_share, 12.0 / 20.0, 1e-9);
  EXPECT_GT(one->psnr_db, all->curve.front().psnr_db);  // better than all-INT8

  o.target_psnr_db = one->psnr_db - 1e-6;  // met by keeping conv2 alone
  auto mid = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(mid.ok()) << mid.status().message();
  EXPECT_TRUE(mid->reached);
  EXPECT_EQ(mid->kept, 1);
  ASSERT_EQ(mid->per_conv.size(), 1u);
  EXPECT_EQ(mid->per_conv.begin()->first, "conv2");
  EXPECT_GE(mid->psnr_db, o.target_psnr_db);

  o.target_psnr_db = 1;  // all-INT8 already meets it: one evaluation, nothing kept
  auto low = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(low.ok());
  EXPECT_TRUE(low->per_conv.empty());
  EXPECT_DOUBLE_EQ(low->quantized_share, 1.0);
  EXPECT_EQ(low->evaluations, 1);
}

TEST(PrecisionSearch, GroupsConsecutiveConvsWhenThereAreMoreThanMaxGroups) {
  const ir::Graph g = test::small_graph();
  SearchOptions o;
  o.target_psnr_db = 150;
  o.max_groups = 1;  // both convs form one run: kept or quantized together
  auto r = search_precision(g, table_with_bad_conv2_input(g), {}, samples(), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->ranking, (std::vector<std::string>{"conv1", "conv2"}));
  EXPECT_EQ(r->kept, 2);
  EXPECT_EQ(r->evaluations, 2);  // all-INT8, then the one group alone; no bisection step is left
}

// conv2's INT8 input scale comes from a threshold far below its range (clipping), its FP8 scale from the largest
// |x| seen: conv2 must choose FP8. conv1 sees the image in [0, 1], where INT8's even steps are the finer.
TEST(PrecisionSearch, ChoosesInt8OrFp8PerConvByTheMeasuredError) {
  const ir::Graph g = test::small_graph();
  const CalibTable table = table_with_bad_conv2_input(g);
  SearchOptions o;
  o.choose_int8_or_fp8 = true;
  o.target_psnr_db = -INFINITY;  // choose only
  auto r = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->per_conv.size(), 1u);  // base INT8: only the FP8 choice is listed
  EXPECT_EQ(r->per_conv.at("conv2"), ir::Precision::kFp8);
  EXPECT_EQ(r->kept, 0);
  EXPECT_DOUBLE_EQ(r->quantized_share, 1.0);
  EXPECT_EQ(r->evaluations, 5);  // each conv alone in INT8 and in FP8, then the mixed graph
  o.choose_int8_or_fp8 = false;
  auto int8 = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(int8.ok());
  EXPECT_GT(r->psnr_db, int8->psnr_db + 10);  // clipping conv2's input cost far more than FP8's coarser steps

  // Base FP8: the INT8 choice is the one listed. With a target only all-FP32 meets, both convs are kept.
  QuantOptions fp8;
  fp8.precision = ir::Precision::kFp8;
  auto from_fp8 = search_precision(g, table, fp8, samples(), [] {
    SearchOptions c;
    c.choose_int8_or_fp8 = true;
    c.target_psnr_db = -INFINITY;
    return c;
  }());
  ASSERT_TRUE(from_fp8.ok());
  ASSERT_EQ(from_fp8->per_conv.size(), 1u);
  EXPECT_EQ(from_fp8->per_conv.at("conv1"), ir::Precision::kInt8);
  o.choose_int8_or_fp8 = true;
  o.target_psnr_db = 150;
  auto all = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->kept, 2);
  EXPECT_EQ(all->ranking.size(), 2u);
}

// Each strength measured once, in order, as the PSNR of the model quantized with it; the best one chosen (the
// calibration covers the image's channels unevenly, so the strengths give different models).
TEST(ChooseChannelMigration, MeasuresEachStrengthAndTakesTheBest) {
  const ir::Graph g = test::small_graph();
  CalibTable t = table_with_bad_conv2_input(g);
  t.tensors[0].channel_max = {1.0f, 0.05f, 0.4f};
  t.tensors[1].channel_max = {3.0f, 0.5f, 0.01f, 2.0f};
  auto r = choose_channel_migration(g, t, {}, samples(), {0.25f, 0.5f, 1.0f});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->psnr_db.size(), 3u);
  double best = -INFINITY;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r->psnr_db[i].first, (std::array<float, 3>{0.25f, 0.5f, 1.0f}[i]));
    best = std::max(best, r->psnr_db[i].second);
  }
  EXPECT_NE(r->psnr_db[0].second, r->psnr_db[2].second);
  int chosen = 0;
  for (const auto& [a, psnr] : r->psnr_db) {
    if (a == r->strength) {
      EXPECT_EQ(psnr, best);
      ++chosen;
    }
  }
  EXPECT_EQ(chosen, 1) << "the strength chosen is one of those measured";
  EXPECT_FALSE(choose_channel_migration(g, t, {}, samples(), {0.5f}, [] { return true; }).ok());
  EXPECT_FALSE(choose_channel_migration(g, t, {}, {}, {0.5f}).ok());
}

// A conv pinned to INT8 (a qtable) stays quantized with every other conv kept: a target above that is measured
// as missed, not taken as met by an assumed FP32 output.
TEST(PrecisionSearch, PinnedQuantizedConvMakesTheAllKeptEndMeasured) {
  const ir::Graph g = test::small_graph();
  QuantOptions base;
  base.per_conv["conv2"] = ir::Precision::kInt8;
  SearchOptions o;
  o.target_psnr_db = 150;
  auto r = search_precision(g, table_with_bad_conv2_input(g), base, samples(), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->reached);
  EXPECT_TRUE(std::isfinite(r->psnr_db)) << r->psnr_db;
  EXPECT_LT(r->psnr_db, 150);
  EXPECT_GT(r->quantized_share, 0.0);  // conv2's share stays quantized
  EXPECT_EQ(r->per_conv.at("conv2"), ir::Precision::kInt8);
}

TEST(PrecisionSearch, RefusesSamplesOfMixedSizes) {
  const ir::Graph g = test::small_graph();
  std::vector<Tensor> s = samples();
  s.push_back(Tensor(3, 5, 5));
  EXPECT_FALSE(search_precision(g, table_with_bad_conv2_input(g), {}, s, {}).ok());
  EXPECT_FALSE(search_precision(g, table_with_bad_conv2_input(g), {}, {}, {}).ok());
}

}  // namespace
}  // namespace resr::quant
