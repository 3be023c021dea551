// Packed convs shared across compiles (backends/cpu/pack_cache.h): a conv with the same weights, shape and
// precision is packed once; any difference, even one weight, packs anew; executables compiled through the cache
// give the same bits as ones compiled without it, and keep their convs after the cache is gone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "backends/cpu/executor.h"
#include "backends/cpu/pack_cache.h"
#include "graph_builder.h"
#include "support/compare.h"

namespace resr::cpu {
namespace {

std::vector<float> random_weights(int oc, int ic, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> w(std::size_t(oc) * ic * 9);
  for (float& x : w) x = d(rng);
  return w;
}

TEST(PackCache, TheSameConvIsPackedOnceAndAnyDifferencePacksAnew) {
  PackCache cache;
  const std::vector<float> w = random_weights(16, 8, 1);
  const auto a = cache.get_or_pack(w.data(), 16, 8, ir::Precision::kFp32, "a");
  // NOLINTNEXTLINE(performance-unnecessary-copy-initialization): equal values at another address
  const std::vector<float> copy = w;
  EXPECT_EQ(cache.get_or_pack(copy.data(), 16, 8, ir::Precision::kFp32, "b"), a);
  EXPECT_EQ(cache.hits(), 1);
  std::vector<float> one_off = w;
  one_off[77] = std::nextafter(one_off[77], 1.0f);
  EXPECT_NE(cache.get_or_pack(one_off.data(), 16, 8, ir::Precision::kFp32, "c"), a);
  EXPECT_NE(cache.get_or_pack(w.data(), 8, 16, ir::Precision::kFp32, "d"), a);  // same values, other shape
  EXPECT_NE(cache.get_or_pack(w.data(), 16, 8, ir::Precision::kFp16, "e"), a);
  EXPECT_NE(cache.get_or_pack(w.data(), 16, 8, ir::Precision::kFp32, "f", FloatProducts::kBf16), a);  // other products
  EXPECT_EQ(cache.packs(), 5);
  EXPECT_EQ(cache.hits(), 1);
}

TEST(PackCache, ThreadsGetOnePackingEachOrShareOne) {
  PackCache cache;
  const std::vector<float> w = random_weights(32, 16, 2);
  std::vector<std::shared_ptr<const Conv3x3Impl>> got(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] { got[t] = cache.get_or_pack(w.data(), 32, 16, ir::Precision::kFp32, "x"); });
  for (std::thread& t : threads) t.join();
  for (const auto& g : got) ASSERT_NE(g, nullptr);
  EXPECT_EQ(cache.hits() + cache.packs(), 8);
  const auto later = cache.get_or_pack(w.data(), 32, 16, ir::Precision::kFp32, "x");  // one of theirs
  EXPECT_NE(std::find(got.begin(), got.end(), later), got.end());
}

// in(3) -> conv 3->16 -> conv 16->16 -> conv 16->3, with a variant whose middle conv differs.
std::shared_ptr<ir::Graph> graph(unsigned seed) {
  test::GraphBuilder b(seed);
  const int c1 = b.conv("conv1", b.input(), 16, 3, 0.0f);
  const int c2 = b.conv("conv2", c1, 16, 3, 0.0f);
  b.g.output = b.conv("conv3", c2, 3, 3, 0.0f);
  return std::make_shared<ir::Graph>(std::move(b.g));
}

TEST(PackCache, CompilesThroughTheCacheGiveTheSameBits) {
  const auto g = graph(5);
  auto variant = std::make_shared<ir::Graph>(*g);
  for (float& w : variant->nodes[2].weights) w *= 0.5f;  // conv2 only
  const Tensor in = test::random_image(21, 17);
  PackCache cache;
  std::unique_ptr<Executable> cached[2] = {compile(g, &cache), compile(variant, &cache)};
  EXPECT_EQ(cache.packs(), 4);  // conv1, conv2, conv3, and the variant's conv2
  EXPECT_EQ(cache.hits(), 2);   // the variant's conv1 and conv3
  std::unique_ptr<Executable> plain[2] = {compile(g), compile(variant)};
  for (int k = 0; k < 2; ++k) {
    auto a = cached[k]->run(in), b = plain[k]->run(in);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->numel(), b->numel());
    EXPECT_EQ(std::memcmp(a->data(), b->data(), std::size_t(a->numel()) * sizeof(float)), 0) << k;
  }
  // The executables keep their convs when the cache goes.
  auto outlives = [&] {
    PackCache scoped;
    return compile(g, &scoped);
  }();
  auto a = outlives->run(in), b = plain[0]->run(in);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::memcmp(a->data(), b->data(), std::size_t(a->numel()) * sizeof(float)), 0);
}

}  // namespace
}  // namespace resr::cpu
