// Status and Result (core/status.h): what a caller sees of a failure, including one it did not check.
#include <gtest/gtest.h>

#include <string>

#include "core/status.h"

namespace resr {
namespace {

Result<int> half_of(int n) {
  if (n % 2 != 0) return Status::error(std::to_string(n) + " is odd");
  return n / 2;
}

TEST(Status, ContextIsPrependedAndTheKindKept) {
  const Status oom = Status::out_of_memory("no memory").with_context("a.png");
  EXPECT_EQ(oom.message(), "a.png: no memory");
  EXPECT_TRUE(oom.is_out_of_memory());
  EXPECT_TRUE(ok_status().with_context("a.png").ok());
}

TEST(Result, ValueOfAFailedResultThrowsWithItsMessage) {
  Result<int> even = half_of(8);
  ASSERT_TRUE(even.ok());
  EXPECT_EQ(*even, 4);
  const Result<int> odd = half_of(3);
  ASSERT_FALSE(odd.ok());
  try {
    (void)odd.value();
    FAIL() << "value() of a failed Result returned";
  } catch (const BadResultAccess& e) {
    EXPECT_EQ(std::string(e.what()), "value of a failed Result: 3 is odd");
  }
  EXPECT_THROW((void)*half_of(5), BadResultAccess);
  EXPECT_THROW((void)std::move(half_of(7)).value(), BadResultAccess);
}

}  // namespace
}  // namespace resr
