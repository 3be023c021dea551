// fma_peak: measures the machine's fp32 FMA throughput, so benchmarks can print "fraction of peak".
// Each OpenMP thread (default team size) runs independent FMA chains; the result counts 2 flops per lane per FMA.
// Takes about `seconds` of wall time.
#pragma once

namespace resr::cpu {

// GFLOP/s summed over `threads` threads (0: the OpenMP default team).
double measure_fma_peak_gflops_avx2(double seconds, int threads = 0);

// Same with 16 chains of 16-wide (zmm) FMAs per thread; needs AVX-512F (check cpu_has_avx512f()). On CPUs with
// full-width 512-bit FMA units (Zen 5, server Intel) this is twice the AVX2 figure.
double measure_fma_peak_gflops_avx512(double seconds, int threads = 0);

}  // namespace resr::cpu
