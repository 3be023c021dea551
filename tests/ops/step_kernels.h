// The kernel each conv step of an executable ran, for tests of the CPU executor's kernel choice.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends/executable.h"
#include "core/tensor.h"

namespace resr::test {

// Kernel name per conv step (steps whose name has "conv") of one run of `e` on `in`, with step timing on.
inline std::vector<std::string> conv_kernels(Executable& e, const Tensor& in) {
  e.set_step_timing(true);
  EXPECT_TRUE(e.run(in).ok());
  std::vector<std::string> k;
  for (const StepTime& t : e.step_times())
    if (t.name.find("conv") != std::string::npos) k.push_back(t.kernel);
  return k;
}

}  // namespace resr::test
