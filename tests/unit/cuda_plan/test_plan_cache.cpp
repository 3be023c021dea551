// The CUDA backend's on-disk cache of compiled plans (backends/cuda/plan_cache.h): entries round-trip, anything
// damaged or not ours misses, writes are atomic renames, the budget is kept oldest first, and the directory
// follows the environment.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/plan_cache.h"
#include "support/scoped_env.h"
#include "support/temp_dir.h"

namespace resr::cuda {
namespace {

namespace fs = std::filesystem;

// A fresh directory of the test's own (not created: the cache makes it on its first put), removed afterwards.
class PlanCacheTest : public ::testing::Test {
 protected:
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  const test::ScopedTempDir tmp_{"resr_plan_cache_"};
  const fs::path& dir_ = tmp_.path();
};

TEST_F(PlanCacheTest, EntriesRoundTripAndMissesAreMisses) {
  const PlanCache cache(dir_);
  EXPECT_FALSE(cache.get("fused|a").has_value());  // the directory does not even exist yet
  std::string binary = "engine 7\n{\"json\": 1}";
  binary += std::string("\0\n\xff", 3);
  cache.put("fused|a", binary);
  cache.put("fused|b", "");
  ASSERT_TRUE(cache.get("fused|a").has_value());
  EXPECT_EQ(*cache.get("fused|a"), binary);
  ASSERT_TRUE(cache.get("fused|b").has_value());
  EXPECT_EQ(*cache.get("fused|b"), "");
  EXPECT_FALSE(cache.get("fused|c").has_value());
  cache.put("fused|a", "replaced");
  EXPECT_EQ(*cache.get("fused|a"), "replaced");
  // Nothing but the two entries is left behind (the temporary files were renamed).
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().extension(), ".plan") << e.path();
    ++files;
  }
  EXPECT_EQ(files, 2);
}

TEST_F(PlanCacheTest, ErasedEntriesMiss) {
  const PlanCache cache(dir_);
  cache.erase("fused|none");  // nothing there: nothing happens
  cache.put("fused|a", "stale plan");
  cache.put("fused|b", "good plan");
  cache.put("NVIDIA H200|fused|a", "stale plan, scoped");
  const CacheView view{&cache, "NVIDIA H200|"};
  view.erase("fused|a");
  EXPECT_FALSE(cache.get("NVIDIA H200|fused|a").has_value());
  EXPECT_FALSE(fs::exists(cache.entry_path("NVIDIA H200|fused|a")));
  EXPECT_EQ(*cache.get("fused|a"), "stale plan");  // another scope's entry of the same name stays
  cache.erase("fused|a");
  EXPECT_FALSE(cache.get("fused|a").has_value());
  EXPECT_EQ(*cache.get("fused|b"), "good plan");
  // A file that holds another key under the same name (a hash collision) is not the entry: it stays.
  write(cache.entry_path("fused|c"), read(cache.entry_path("fused|b")));
  cache.erase("fused|c");
  EXPECT_TRUE(fs::exists(cache.entry_path("fused|c")));
  EXPECT_FALSE(PlanCache().get("fused|b").has_value());
  PlanCache().erase("fused|b");  // no cache: nothing to do
}

TEST_F(PlanCacheTest, DamagedTruncatedOrForeignFilesMiss) {
  const PlanCache cache(dir_);
  const std::string key = "algo|64x64", value = "1 0 4096";
  cache.put(key, value);
  const fs::path p = cache.entry_path(key);
  const std::string good = read(p);
  ASSERT_EQ(*cache.get(key), value);

  std::string flipped = good;
  flipped.back() = char(flipped.back() ^ 1);  // one bit of the value
  write(p, flipped);
  EXPECT_FALSE(cache.get(key).has_value());

  write(p, good.substr(0, good.size() - 1));  // truncated
  EXPECT_FALSE(cache.get(key).has_value());
  write(p, good + "x");  // trailing bytes
  EXPECT_FALSE(cache.get(key).has_value());
  write(p, "");
  EXPECT_FALSE(cache.get(key).has_value());
  write(p, "not a cache entry at all");
  EXPECT_FALSE(cache.get(key).has_value());
  write(p, "resr-plan-cache 1 99999999999999999999 1 0\n");  // sizes that cannot be
  EXPECT_FALSE(cache.get(key).has_value());

  // Another key's entry in this key's file (as a hash collision would leave it): a miss, not the other's value.
  const PlanCache other(dir_ / "other");
  other.put("algo|other", value);
  write(p, read(other.entry_path("algo|other")));
  EXPECT_FALSE(cache.get(key).has_value());

  write(p, good);
  EXPECT_EQ(*cache.get(key), value);
}

TEST_F(PlanCacheTest, DisabledAndUnwritableCachesMissQuietly) {
  const PlanCache none;
  EXPECT_FALSE(none.enabled());
  none.put("k", "v");
  EXPECT_FALSE(none.get("k").has_value());

  write(dir_.string() + "_file", "a file where the directory should be");
  const PlanCache blocked(dir_.string() + "_file");
  blocked.put("k", "v");
  EXPECT_FALSE(blocked.get("k").has_value());
  fs::remove(dir_.string() + "_file");

  const CacheView unset;
  unset.put("k", "v");
  EXPECT_FALSE(unset.get("k").has_value());
}

TEST_F(PlanCacheTest, ViewsKeepTheirScopesApart) {
  const PlanCache cache(dir_);
  const CacheView h200{&cache, "NVIDIA H200|9.0|"}, h100{&cache, "NVIDIA H100|9.0|"};
  h200.put("fused|x", "plan for the H200");
  EXPECT_EQ(*h200.get("fused|x"), "plan for the H200");
  EXPECT_FALSE(h100.get("fused|x").has_value());
  EXPECT_EQ(*cache.get("NVIDIA H200|9.0|fused|x"), "plan for the H200");
}

TEST_F(PlanCacheTest, TheBudgetIsKeptLeastRecentlyUsedFirst) {
  const std::string kb(1000, 'p');
  const PlanCache cache(dir_, 4500);  // four entries of a little over 1000 bytes fit
  auto age = [&](const std::string& key, int seconds_ago) {
    fs::last_write_time(cache.entry_path(key), fs::file_time_type::clock::now() - std::chrono::seconds(seconds_ago));
  };
  for (const char* k : {"a", "b", "c", "d"}) cache.put(k, kb);
  age("a", 40);
  age("b", 30);
  age("c", 20);
  age("d", 10);
  ASSERT_TRUE(cache.get("a").has_value());  // a hit makes "a" the most recently used
  cache.put("e", kb);                       // over budget: down to three quarters, oldest first
  EXPECT_FALSE(cache.get("b").has_value());
  EXPECT_FALSE(cache.get("c").has_value());
  EXPECT_TRUE(cache.get("d").has_value());
  EXPECT_TRUE(cache.get("a").has_value());
  EXPECT_TRUE(cache.get("e").has_value());
}

TEST_F(PlanCacheTest, ConcurrentWritersNeverLeaveHalfAnEntry) {
  const PlanCache cache(dir_);
  const std::string big(200000, 'x'), other(150000, 'y');
  std::vector<std::thread> writers;
  writers.reserve(4);
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) cache.put("shared", (t + i) % 2 == 0 ? big : other);
    });
  for (int i = 0; i < 200; ++i) {
    if (const std::optional<std::string> v = cache.get("shared")) {
      EXPECT_TRUE(*v == big || *v == other);
    }
  }
  for (std::thread& w : writers) w.join();
  EXPECT_TRUE(cache.get("shared").has_value());
}

// What RESR_VERBOSE=plans shows: hits, misses and stores of every cache of the process.
TEST_F(PlanCacheTest, ProcessStatsCountHitsMissesAndStores) {
  auto counts = [] {
    std::array<int, 3> c{};
    EXPECT_EQ(std::sscanf(PlanCache::process_stats().c_str(), "plan cache: %d hits, %d misses, %d stored", &c[0], &c[1],
                          &c[2]),
              3)
        << PlanCache::process_stats();
    return c;
  };
  const std::array<int, 3> before = counts();
  const PlanCache cache(dir_);
  EXPECT_FALSE(cache.get("k").has_value());
  cache.put("k", "v");
  EXPECT_TRUE(cache.get("k").has_value());
  EXPECT_TRUE(cache.get("k").has_value());
  const std::array<int, 3> after = counts();
  EXPECT_EQ(after[0] - before[0], 2);
  EXPECT_EQ(after[1] - before[1], 1);
  EXPECT_EQ(after[2] - before[2], 1);
}

using test::ScopedEnv;

// RESR_CACHE_DIR, then XDG_CACHE_HOME, then HOME; "off" or empty turns the cache off.
TEST(PlanCacheEnvironment, TheDirectoryFollowsTheEnvironment) {
  {
    const ScopedEnv dir("RESR_CACHE_DIR", "/tmp/some/where");
    EXPECT_EQ(PlanCache::from_environment("cuda").dir(), fs::path("/tmp/some/where/cuda"));
  }
  for (const char* off : {"off", ""}) {
    const ScopedEnv dir("RESR_CACHE_DIR", off);
    EXPECT_FALSE(PlanCache::from_environment("cuda").enabled()) << '"' << off << '"';
  }
  const ScopedEnv unset_dir("RESR_CACHE_DIR", nullptr);
  {
    const ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(PlanCache::from_environment("cuda").dir(), fs::path("/tmp/xdg/resr/cuda"));
  }
  const ScopedEnv unset_xdg("XDG_CACHE_HOME", nullptr);
  {
    const ScopedEnv home("HOME", "/tmp/home");
    EXPECT_EQ(PlanCache::from_environment("cuda").dir(), fs::path("/tmp/home/.cache/resr/cuda"));
  }
  const ScopedEnv no_home("HOME", nullptr);
  EXPECT_FALSE(PlanCache::from_environment("cuda").enabled());
}

TEST(PlanCacheEnvironment, PlanningIsReportedOnlyWithVerbosePlans) {
  for (const char* verbose : {"plans", "dispatch", static_cast<const char*>(nullptr)}) {
    const ScopedEnv env("RESR_VERBOSE", verbose);
    ::testing::internal::CaptureStderr();
    report_planning(32, 24, std::chrono::steady_clock::now());
    const std::string err = ::testing::internal::GetCapturedStderr();
    if (verbose != nullptr && std::string(verbose) == "plans") {
      EXPECT_NE(err.find("cuda: planned 32x24 in "), std::string::npos) << err;
      EXPECT_NE(err.find("plan cache: "), std::string::npos) << err;
    } else {
      EXPECT_EQ(err, "") << (verbose != nullptr ? verbose : "unset");
    }
  }
}

// Cache keys (the fused graphs' signatures and the legacy convs' problems) are spelled group by group: a
// different tag, value or count of values spells a different key, and both overloads spell alike.
TEST(PlanCacheKeys, GroupsSpellTagAndValues) {
  std::string key;
  append_key_group(key, "T", {2, -1, 64});
  append_key_group(key, " d", std::vector<std::int64_t>{1, 32, 8, 8});
  EXPECT_EQ(key, "T 2 -1 64; d 1 32 8 8;");
  std::string from_list, from_vector;
  append_key_group(from_list, "C", {std::int64_t{1} << 40, 0});
  append_key_group(from_vector, "C", std::vector<std::int64_t>{std::int64_t{1} << 40, 0});
  EXPECT_EQ(from_list, from_vector);
  std::string one_group, two_groups;
  append_key_group(one_group, "P", {1, 2});
  append_key_group(two_groups, "P", {1});
  append_key_group(two_groups, "P", {2});
  EXPECT_NE(one_group, two_groups);
  std::string empty;
  append_key_group(empty, "D", std::vector<std::int64_t>{});
  EXPECT_EQ(empty, "D;");
}

}  // namespace
}  // namespace resr::cuda
