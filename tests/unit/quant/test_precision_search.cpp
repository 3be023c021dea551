// search_precision on the small graph: a conv whose input range is badly calibrated must be ranked first and
// kept; the targets at both ends give all-INT8 and all-FP32; the curve is measured, sorted and consistent.
#include <gtest/gtest.h>

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
  EXPECT_EQ(all->keep.size(), 2u);
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
  ASSERT_EQ(mid->keep.size(), 1u);
  EXPECT_EQ(mid->keep.begin()->first, "conv2");
  EXPECT_GE(mid->psnr_db, o.target_psnr_db);

  o.target_psnr_db = 1;  // all-INT8 already meets it: one evaluation, nothing kept
  auto low = search_precision(g, table, {}, samples(), o);
  ASSERT_TRUE(low.ok());
  EXPECT_TRUE(low->keep.empty());
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
  EXPECT_EQ(r->keep.size(), 2u);
  EXPECT_EQ(r->evaluations, 2);  // all-INT8, then the one group alone; no bisection step is left
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
