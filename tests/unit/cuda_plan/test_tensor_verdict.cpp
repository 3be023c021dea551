// The tensor-core conv's verdicts as the plan cache keeps them (tensor_verdict.h): what is written reads back the
// same, anything else is refused, and the key carries the kernel's version.
#include <gtest/gtest.h>

#include <string>

#include "backends/cuda/tensor_verdict.h"

namespace resr::cuda {
namespace {

using tensor_conv::Cut;
using tensor_conv::Products;

TEST(TensorVerdict, WhatIsWrittenReadsBack) {
  TensorVerdict v;
  v.cut = Cut{4, 64, 2, Products::kInt8};
  v.cudnn_ms = 0.4125;
  v.tensor_ms = 0.25;
  const std::optional<TensorVerdict> back = decode_tensor_verdict(encode_tensor_verdict(v));
  ASSERT_TRUE(back.has_value());
  ASSERT_TRUE(back->cut.has_value());
  EXPECT_TRUE(*back->cut == *v.cut);
  EXPECT_DOUBLE_EQ(back->cudnn_ms, 0.4125);
  EXPECT_DOUBLE_EQ(back->tensor_ms, 0.25);
  v.cut = Cut{2, 32, 1, Products::kFp16, true, 2};  // the warpgroup form, two output-channel parts
  const std::optional<TensorVerdict> warpgroup = decode_tensor_verdict(encode_tensor_verdict(v));
  ASSERT_TRUE(warpgroup.has_value() && warpgroup->cut.has_value());
  EXPECT_TRUE(warpgroup->cut->warpgroup);
  EXPECT_EQ(warpgroup->cut->parts, 2);
  EXPECT_TRUE(*warpgroup->cut == *v.cut);
  TensorVerdict cudnn;
  cudnn.cudnn_ms = 0.1;
  cudnn.tensor_ms = 0.2;
  const std::optional<TensorVerdict> kept = decode_tensor_verdict(encode_tensor_verdict(cudnn));
  ASSERT_TRUE(kept.has_value());
  EXPECT_FALSE(kept->cut.has_value());
  EXPECT_DOUBLE_EQ(kept->tensor_ms, 0.2);
}

TEST(TensorVerdict, RefusesWhatItDidNotWrite) {
  for (const std::string bad :
       {"", "tensor", "tensor 4 64 2 1 0 1 0.4", "tensor 3 64 1 0 0 1 1 1", "tensor 2 24 1 0 0 1 1 1",
        "tensor 2 64 3 0 0 1 1 1", "tensor 2 64 1 7 0 1 1 1", "tensor 2 64 1 0 2 1 1 1", "tensor 2 64 1 0 0 3 1 1",
        "tensor 2 64 1 0 0 1 1", "tensor 2 64 1 0 0 1 1 1 trailing", "tensor 2 64 1 0 0 1.5 0.25", "cudnn 1",
        "cudnn 1 2 3", "fused 1 2"})
    EXPECT_FALSE(decode_tensor_verdict(bad).has_value()) << bad;
}

TEST(TensorVerdict, KeysCarryTheKernelVersionAndOnlyTimedVerdictsAreKept) {
  EXPECT_NE(tensor_verdict_key("T 64 64;"), "T 64 64;");
  EXPECT_NE(tensor_verdict_key("T 64 64;").find("T 64 64;"), std::string::npos);
  EXPECT_NE(tensor_verdict_key("T 64 64;"), tensor_verdict_key("T 64 32;"));
  // The build gives the version (a hash of the kernel's sources), so that another kernel's verdicts are not taken.
  EXPECT_EQ(tensor_verdict_key("T 64 64;").find("unversioned"), std::string::npos) << tensor_verdict_key("T 64 64;");
  TensorVerdict untimed;
  EXPECT_FALSE(worth_keeping(untimed));
  untimed.cudnn_ms = 0.3;
  EXPECT_TRUE(worth_keeping(untimed));
}

}  // namespace
}  // namespace resr::cuda
