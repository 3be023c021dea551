// Milliseconds elapsed on the steady clock since t0: how every stage time and report figure is taken.
#pragma once

#include <chrono>

namespace resr {

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace resr
