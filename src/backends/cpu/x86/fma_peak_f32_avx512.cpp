// fma_peak_f32_avx512: 16 independent 16-wide vfmadd231ps chains per thread (enough to cover a 4-cycle latency x
// 2 FMA pipes twice over), timed over the OpenMP team, best of short rounds; the chains' sum is kept so the loop
// cannot be removed.
#include <immintrin.h>

#include <omp.h>

#include "backends/cpu/fma_peak.h"

namespace resr::cpu {

namespace {

constexpr int kChains = 16;

float fma_chains_512(long iters) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(0.001f * float(k));
  const __m512 m = _mm512_set1_ps(0.999999f);
  const __m512 a = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], m, a);
  }
  __m512 s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm512_add_ps(s, acc[k]);
  float out[16];  // (not _mm512_reduce_add_ps: gcc 12's header warns -Wuninitialized in it)
  _mm512_storeu_ps(out, s);
  return out[0] + out[15];
}

}  // namespace

double measure_fma_peak_gflops_avx512(double seconds, int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  // Best of many ~10 ms rounds: robust against other processes sharing the cores.
  const long iters = 1L << 16;
  volatile float sink = 0.0f;
  double best = 0.0, total = 0.0;
  while (total < seconds) {
    const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    {
      const float r = fma_chains_512(iters);
#pragma omp critical
      sink = sink + r;
    }
    const double dt = omp_get_wtime() - t0;
    total += dt;
    const double gflops = double(iters) * kChains * 16 * 2 * threads / dt * 1e-9;
    if (gflops > best) best = gflops;
  }
  return best;
}

}  // namespace resr::cpu
