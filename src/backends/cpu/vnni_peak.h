// vnni_peak: measures the machine's INT8 multiply-add throughput with AVX-512 VNNI (vpdpbusd: 64 u8 x s8
// multiply-adds per zmm instruction), so INT8 kernel benchmarks can print "fraction of peak". Each OpenMP thread
// (default team size) runs independent vpdpbusd chains; takes about `seconds` of wall time.
#pragma once

namespace resr::cpu {

// Billions of int8 multiply-adds per second summed over `threads` threads (0: the OpenMP default team); needs
// AVX-512 VNNI (check cpu_has_avx512_vnni()). Defined in x86/vnni_peak_int8_avx512.cpp.
double measure_vnni_peak_gmacs(double seconds, int threads = 0);

}  // namespace resr::cpu
