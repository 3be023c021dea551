// bench_conv3x3: GFLOP/s (2 * MACs) of conv3x3_direct_f32_avx2 on the Real-ESRGAN shapes, next to a measured
// FMA peak (10 independent FMA chains per thread, all OpenMP threads), so the fraction of peak is printed.
// Best of ~10 ms rounds; also printed from process CPU time / threads, which stays meaningful when other
// processes share the cores (it ignores time descheduled, counts OpenMP spin-waits and imbalance).
// Usage: bench_conv3x3 [seconds_per_shape]   (not a test; run by hand)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <ctime>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/fma_peak.h"

namespace {

using namespace resr;
using namespace resr::cpu;

struct Shape {
  int ic, oc, h, w;
  Activation act;
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Rate {
  double wall, cpu;  // GFLOP/s from wall time, and from process CPU time / threads (robust to a busy machine)
};

Rate bench(const Shape& s, double seconds) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> wt(std::size_t(s.oc) * s.ic * 9), bias(s.oc), slopes(s.oc, 0.1f);
  for (float& x : wt) x = d(rng) / std::sqrt(float(s.ic * 9));
  for (float& x : bias) x = d(rng);
  const PackedConv3x3 pw = pack_conv3x3_f32(wt.data(), s.oc, s.ic);
  const PaddedGeometry geo{s.h, s.w};
  AlignedBuffer in_buf(geo.floats(s.ic)), out_buf(geo.floats(s.oc));
  PaddedPlanes in{in_buf.data(), s.ic, geo}, out{out_buf.data(), s.oc, geo};
  for (int c = 0; c < s.ic; ++c)
    for (int y = 1; y <= s.h; ++y)
      for (int x = 1; x <= s.w; ++x) in.plane(c)[y * geo.pitch() + x] = d(rng);
  ConvEpilogue ep;
  ep.bias = bias.data();
  ep.act = s.act;
  ep.leaky_slope = 0.2f;
  ep.prelu_slopes = slopes.data();

  const double flops = 2.0 * s.ic * s.oc * 9.0 * s.h * s.w;
  for (int k = 0; k < 3; ++k) conv3x3_direct_f32_avx2(pw, in, out, ep);
  double best = 1e30, best_cpu = 1e30, total = 0.0;
  int rounds = 0;
  const int threads = omp_get_max_threads();
  while (total < seconds || rounds < 10) {
    const int reps = std::max(1, int(1.5e9 / flops));  // ~10 ms rounds, best of many
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) conv3x3_direct_f32_avx2(pw, in, out, ep);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double dc = (process_cpu_seconds() - c0) / threads;
    best = std::min(best, dt / reps);
    best_cpu = std::min(best_cpu, dc / reps);
    total += dt;
    ++rounds;
  }
  return {flops / best * 1e-9, flops / best_cpu * 1e-9};
}

}  // namespace

int main(int argc, char** argv) {
  if (!cpu_has_avx2_fma()) {
    std::printf("cpu lacks avx2/fma: nothing to benchmark\n");
    return 0;
  }
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int threads = omp_get_max_threads();
  const double peak = measure_fma_peak_gflops_avx2(0.5);
  const double peak1 = measure_fma_peak_gflops_avx2(0.5, 1);
  std::printf("threads %d, measured fp32 FMA peak: %.1f GFLOP/s (1 thread: %.1f)\n", threads, peak, peak1);
  const Shape shapes[] = {
      {64, 64, 128, 128, Activation::kPrelu},    {64, 64, 64, 64, Activation::kPrelu},
      {192, 32, 64, 64, Activation::kLeakyRelu}, {192, 32, 128, 128, Activation::kLeakyRelu},
      {3, 64, 128, 128, Activation::kLeakyRelu}, {64, 3, 128, 128, Activation::kNone},
      {64, 48, 128, 128, Activation::kNone},     {64, 64, 512, 512, Activation::kPrelu},
      {192, 32, 256, 256, Activation::kLeakyRelu},
  };
  for (const Shape& s : shapes) {
    const Rate g = bench(s, seconds);
    std::printf("conv3x3_direct_f32_avx2 %3d->%-3d @%dx%d: %6.1f GFLOP/s %5.1f%% of peak | by cpu time %6.1f %5.1f%%\n",
                s.ic, s.oc, s.h, s.w, g.wall, 100.0 * g.wall / peak, g.cpu, 100.0 * g.cpu / peak);
  }
  return 0;
}
