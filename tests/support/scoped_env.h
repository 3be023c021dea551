// An environment variable set (or unset, with a null value) for a scope, and put back as it was after: a test's
// switches neither leak into later tests nor drop a value the whole run was started with (gpu_check.sh runs the
// CUDA tests with RESR_CUDA_FUSED=1 in the environment, for instance).
//
//   auto exe = [&] {
//     const test::ScopedEnv fused("RESR_CUDA_FUSED", "1");  // read when the executable is made
//     return engine::make_executable(graph, "cuda");
//   }();
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace resr::test {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace resr::test
