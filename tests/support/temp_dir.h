// A directory of a test's own under the system's temporary folder: named after a prefix, the process and the
// running test (so parallel test processes never share one), emptied first, and removed with what is in it when
// this goes, even when the test fails. Not created: a test creates it, or leaves that to the code it tests.
//
//   const test::ScopedTempDir tmp("resr_plan_cache_");
//   PlanCache cache(tmp.path());
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace resr::test {

class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& prefix)
      : path_(std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()) + "_" + test_name())) {
    std::filesystem::remove_all(path_);
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  // One path component: a parameterized test's name holds '/'.
  static std::string test_name() {
    const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = t != nullptr ? t->name() : "none";
    for (char& c : name)
      if (c == '/') c = '_';
    return name;
  }

  std::filesystem::path path_;
};

}  // namespace resr::test
