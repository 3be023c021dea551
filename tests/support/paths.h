// Where tests find their data: tests/data in the source tree, and the real models (fetched by
// scripts/setup.sh into models/, or $RESR_MODELS).
#pragma once

#include <cstdlib>
#include <string>

namespace resr::test {

// $RESR_TEST_DATA overrides the build's path (test binaries carried to another machine, bench/gpu_check.sh).
inline std::string data_path(const std::string& name) {
  const char* env = std::getenv("RESR_TEST_DATA");
  return ((env != nullptr && *env != '\0') ? std::string(env) : std::string(RESR_TEST_DATA_DIR)) + "/" + name;
}

inline std::string model_dir() {
  const char* env = std::getenv("RESR_MODELS");
  return (env != nullptr && *env != '\0') ? std::string(env) : std::string(RESR_SOURCE_DIR) + "/models";
}

}  // namespace resr::test
