// The most OpenMP threads resr starts. libgomp crashes starting a team of about 100000 (OMP_NUM_THREADS=99999
// segfaulted every command in the first parallel region); no machine resr runs on has more than a few hundred
// cores. Header-only: for the OpenMP users (the CLI's and the Python module's start, the image pipeline).
#pragma once

#include <omp.h>

#include <cstdio>

namespace resr {

inline constexpr int kMaxOpenMpThreads = 1024;

// At a program's start: holds OMP_NUM_THREADS (and any earlier setting) to kMaxOpenMpThreads, saying so on stderr
// with `who` ("resr") first. Returns whether it had to.
inline bool cap_openmp_threads(const char* who) {
  const int asked = omp_get_max_threads();
  if (asked <= kMaxOpenMpThreads) return false;
  std::fprintf(stderr, "%s: note: OMP_NUM_THREADS asks for %d threads; resr runs at most %d\n", who, asked,
               kMaxOpenMpThreads);
  omp_set_num_threads(kMaxOpenMpThreads);
  return true;
}

}  // namespace resr
