// fma_peak: measures the machine's fp32 FMA throughput, so benchmarks can print "fraction of peak".
// Each OpenMP thread (default team size) runs 10 independent 8-wide FMA chains; the result counts 2 flops per
// lane per FMA. Needs AVX2 + FMA (check cpu_has_avx2_fma()). Takes about `seconds` of wall time.
#pragma once

namespace resr::cpu {

// GFLOP/s summed over `threads` threads (0: the OpenMP default team).
double measure_fma_peak_gflops_avx2(double seconds, int threads = 0);

}  // namespace resr::cpu
