// Environment switches (RESR_CUDA_FUSED=1, RESR_CPU_BLOCKS=0, ...): read where a backend is compiled.
#pragma once

#include <cstdlib>
#include <cstring>

namespace resr {

// Whether variable `name` is set to exactly `value`.
inline bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

}  // namespace resr
