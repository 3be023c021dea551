// RESR_CUDA_FUSED=auto's choice between a conv's fused graph and its legacy path (backends/cuda/conv_path.h):
// the faster wins, a tie goes to the fused graph, a failed measurement loses, a graph whose output differs from
// the legacy path's is refused, and the choice round-trips through its plan cache entry while anything else in
// the entry is refused.
#include <gtest/gtest.h>

#include <cmath>

#include <limits>
#include <optional>
#include <string>

#include "backends/cuda/conv_path.h"

namespace resr::cuda {
namespace {

TEST(ConvPath, TheFasterPathWinsAndATieGoesToTheFusedGraph) {
  EXPECT_EQ(faster_path(0.05, 0.07), ConvPath::kFused);
  EXPECT_EQ(faster_path(0.09, 0.07), ConvPath::kLegacy);
  EXPECT_EQ(faster_path(0.07, 0.07), ConvPath::kFused);
}

TEST(ConvPath, AFailedMeasurementLoses) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (const double bad : {nan, inf, 0.0, -1.0}) {
    EXPECT_EQ(faster_path(bad, 0.07), ConvPath::kLegacy) << bad;
    EXPECT_EQ(faster_path(0.07, bad), ConvPath::kFused) << bad;
  }
  EXPECT_EQ(faster_path(nan, nan), ConvPath::kFused);  // neither measured: as RESR_CUDA_FUSED=1 would run it
}

TEST(ConvPath, OnlyChoicesWithBothTimesAreKept) {
  EXPECT_TRUE(worth_keeping({ConvPath::kFused, 1.0, 2.0}));
  EXPECT_FALSE(worth_keeping({ConvPath::kLegacy, std::nan(""), 2.0}));
  EXPECT_FALSE(worth_keeping({ConvPath::kFused, 1.0, 0.0}));
  ConvPathChoice unchecked{ConvPath::kFused, 1.0, 2.0};
  unchecked.unchecked = true;  // timed, but the outputs were not compared: this process only
  EXPECT_FALSE(worth_keeping(unchecked));
}

TEST(ConvPath, OutputsAgreeWithinOneHundredthOfTheLargerOfOneAndTheLargestOutput) {
  EXPECT_TRUE(outputs_agree(0.0f, 0.0f));
  EXPECT_TRUE(outputs_agree(0.01f, 0.5f));  // small outputs: within 1e-2 absolute
  EXPECT_FALSE(outputs_agree(0.011f, 0.5f));
  EXPECT_TRUE(outputs_agree(0.5f, 60.0f));  // large outputs: within 1e-2 of the largest
  EXPECT_FALSE(outputs_agree(0.7f, 60.0f));
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(outputs_agree(nan, 1.0f));
  EXPECT_FALSE(outputs_agree(inf, 1.0f));  // max_abs_difference's mark of a value that is not finite
  EXPECT_FALSE(outputs_agree(0.0f, inf));
  EXPECT_FALSE(outputs_agree(0.0f, nan));
}

TEST(ConvPath, AGraphThatDiffersIsKeptAsLegacyWithoutTimes) {
  ConvPathChoice differs;
  differs.path = ConvPath::kLegacy;
  differs.fused_differs = true;
  EXPECT_TRUE(worth_keeping(differs));  // a difference is no transient: later processes need not check again
  EXPECT_EQ(encode_conv_path(differs), "differs 0 0");
  const std::optional<ConvPathChoice> back = decode_conv_path(encode_conv_path(differs));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->path, ConvPath::kLegacy);
  EXPECT_TRUE(back->fused_differs);
  for (const char* agreed : {"fused 1 2", "legacy 2 1"}) EXPECT_FALSE(decode_conv_path(agreed)->fused_differs);
}

TEST(ConvPath, ChoicesRoundTripThroughTheirCacheEntry) {
  for (const ConvPath p : {ConvPath::kFused, ConvPath::kLegacy}) {
    const ConvPathChoice c{p, 0.0521, 0.0734};
    const std::optional<ConvPathChoice> back = decode_conv_path(encode_conv_path(c));
    ASSERT_TRUE(back.has_value()) << encode_conv_path(c);
    EXPECT_EQ(back->path, p);
    EXPECT_DOUBLE_EQ(back->fused_ms, c.fused_ms);
    EXPECT_DOUBLE_EQ(back->legacy_ms, c.legacy_ms);
  }
  EXPECT_EQ(encode_conv_path({ConvPath::kLegacy, 0.5, 0.25}), "legacy 0.5 0.25");
  EXPECT_NE(conv_path_key("T 1;"), "T 1;");       // its own kind of entry beside the plans
  EXPECT_NE(conv_path_key("T 1;"), "path|T 1;");  // not the entries of choices made before the check
}

TEST(ConvPath, AnythingElseInTheEntryIsRefused) {
  for (const std::string bad : {"", "fused", "fused 1", "faster 1 2", "fused 1 2 3", "legacy 1 2x", "fusedx 1 2",
                                "differs 0", "differ 0 0", "differsx 0 0", "7\n{\"plan\": 1}"})
    EXPECT_FALSE(decode_conv_path(bad).has_value()) << bad;
}

}  // namespace
}  // namespace resr::cuda
