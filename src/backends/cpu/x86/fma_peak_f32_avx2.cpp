// fma_peak_f32_avx2: 10 independent vfmadd231ps chains per thread (enough to cover 4-cycle latency x 2 ports),
// timed over the OpenMP team, best of short rounds; the chains' sum is kept so the loop cannot be removed.
#include <immintrin.h>

#include <omp.h>

#include "backends/cpu/fma_peak.h"

namespace resr::cpu {

namespace {

float fma_chains(long iters) {
  __m256 acc[10];
  for (int k = 0; k < 10; ++k) acc[k] = _mm256_set1_ps(0.001f * float(k));
  const __m256 m = _mm256_set1_ps(0.999999f);
  const __m256 a = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 10
    for (int k = 0; k < 10; ++k) acc[k] = _mm256_fmadd_ps(acc[k], m, a);
  }
  __m256 s = acc[0];
  for (int k = 1; k < 10; ++k) s = _mm256_add_ps(s, acc[k]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

}  // namespace

double measure_fma_peak_gflops_avx2(double seconds, int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  // Best of many ~10 ms rounds: robust against other processes sharing the cores.
  const long iters = 1L << 17;
  volatile float sink = 0.0f;
  double best = 0.0, total = 0.0;
  while (total < seconds) {
    const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    {
      const float r = fma_chains(iters);
#pragma omp critical
      sink = sink + r;
    }
    const double dt = omp_get_wtime() - t0;
    total += dt;
    const double gflops = double(iters) * 10 * 8 * 2 * threads / dt * 1e-9;
    if (gflops > best) best = gflops;
  }
  return best;
}

}  // namespace resr::cpu
