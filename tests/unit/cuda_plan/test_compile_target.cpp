// Where the CUDA backend compiles its fused graphs, and the planning line's account of them
// (backends/cuda/compile_target.h), on the host.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "backends/cuda/compile_target.h"

namespace resr::cuda {
namespace {

bool has(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

TEST(CompileTarget, PropertiesUnlessSwitchedOffOrTheVerdictSaysOtherwise) {
  EXPECT_EQ(reason_to_compile_on_handle(false, false, std::nullopt), "");
  EXPECT_EQ(reason_to_compile_on_handle(false, false, std::string(kDevicelessRan)), "");
  EXPECT_TRUE(has(reason_to_compile_on_handle(false, false, std::string(kDevicelessFailed)), "failed"));
  // One process that ended while trying gets a second try (likelier killed than faulted); two, and an entry the
  // cache cannot vouch for, keep to the handle.
  EXPECT_EQ(reason_to_compile_on_handle(false, false, std::string(kDevicelessTrying)), "");
  EXPECT_EQ(verdict_while_trying(std::nullopt), std::string(kDevicelessTrying));
  EXPECT_EQ(verdict_while_trying(std::string(kDevicelessFailed)), std::string(kDevicelessTrying));
  EXPECT_EQ(verdict_while_trying(std::string(kDevicelessTrying)), std::string(kDevicelessTryingAgain));
  EXPECT_TRUE(has(reason_to_compile_on_handle(false, false, std::string(kDevicelessTryingAgain)), "two processes"));
  EXPECT_TRUE(has(reason_to_compile_on_handle(false, false, std::string("ra")), "ended"));
  EXPECT_TRUE(has(reason_to_compile_on_handle(false, false, std::string()), "ended"));
  // The switches come first, whatever the verdict.
  EXPECT_EQ(reason_to_compile_on_handle(true, true, std::string(kDevicelessRan)), "RESR_CUDA_PARALLEL_COMPILE=0");
  EXPECT_EQ(reason_to_compile_on_handle(false, true, std::nullopt), "kernels shared across sizes");
}

TEST(CompileTarget, ReportCountsThreadsAndWhyOnTheHandle) {
  EXPECT_EQ(FusedCompileReport{}.describe(), "");
  FusedCompileReport r;
  r.compiled = 9;
  r.loaded = 1;
  r.without_plan = 2;
  r.ms = 1234.4;
  r.threads = 10;
  r.deviceless = true;
  r.handle_reason = "not shown: some compiled for the properties";
  EXPECT_EQ(r.describe(),
            "cuDNN conv graphs: 9 compiled, 1 cached, 2 without a plan, in 1234 ms on 10 threads for the device's "
            "properties");
  r.rebuilt_on_handle = 1;
  EXPECT_TRUE(has(r.describe(), ", 1 compiled again on the handle"));
  FusedCompileReport h;
  h.loaded = 2;
  h.handle_reason = "RESR_CUDA_PARALLEL_COMPILE=0";
  EXPECT_EQ(h.describe(),
            "cuDNN conv graphs: 0 compiled, 2 cached, 0 without a plan, in 0 ms on 1 thread on the handle "
            "(RESR_CUDA_PARALLEL_COMPILE=0)");
  // The phrases the CUDA tests read from the rest of the planning line never appear here.
  for (const FusedCompileReport& any : {r, h}) {
    EXPECT_FALSE(has(any.describe(), "fused "));
    EXPECT_FALSE(has(any.describe(), "from the plan cache"));
  }
}

}  // namespace
}  // namespace resr::cuda
