// vnni_peak_int8_avx512: 16 independent vpdpbusd chains per thread (enough to cover the latency x 2 pipes
// several times over), timed over the OpenMP team, best of short rounds; the chains' sum is kept so the loop
// cannot be removed.
#include <immintrin.h>

#include <cstdint>

#include <omp.h>

#include "backends/cpu/vnni_peak.h"

namespace resr::cpu {

namespace {

constexpr int kChains = 16;

std::int32_t vnni_chains(long iters) {
  __m512i acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_epi32(k);
  const __m512i a = _mm512_set1_epi32(0x01020304);
  const __m512i b = _mm512_set1_epi32(0x01FF01FF);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
  }
  __m512i s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm512_add_epi32(s, acc[k]);
  alignas(64) std::int32_t out[16];
  _mm512_store_si512(out, s);
  return out[0] + out[15];
}

}  // namespace

double measure_vnni_peak_gmacs(double seconds, int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  // Best of many ~10 ms rounds: robust against other processes sharing the cores.
  const long iters = 1L << 16;
  volatile std::int32_t sink = 0;
  double best = 0.0, total = 0.0;
  while (total < seconds) {
    const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    {
      const std::int32_t r = vnni_chains(iters);
#pragma omp critical
      sink = sink + r;
    }
    const double dt = omp_get_wtime() - t0;
    total += dt;
    const double gmacs = double(iters) * kChains * 64 * threads / dt * 1e-9;
    if (gmacs > best) best = gmacs;
  }
  return best;
}

}  // namespace resr::cpu
