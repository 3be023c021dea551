// bench_conv3x3: conv3x3_direct_f32_avx2 vs conv3x3_winograd43_f32_avx2 vs conv3x3_winograd63_f32_avx2 on the
// Real-ESRGAN shapes (and conv3x3_direct_f32_avx512 / conv3x3_winograd{43,63}_f32_avx512, "direct512" /
// "wino43_512" / "wino63_512", on AVX-512 CPUs, compared with the AVX-512 peak), next to a measured FMA peak (10
// independent FMA chains per thread). Printed per shape and algorithm: time per call and *effective* GFLOP/s = 2 * 9 *
// ic * oc * h * w / time (the direct algorithm's arithmetic, so Winograd can exceed 100% of peak), as a fraction of the
// peak, for
//   1T: one OpenMP thread, best of rounds measured in process CPU time (robust when other processes share the
//       cores: it ignores time descheduled), compared with the 1-thread peak;
//   2T: the default team, best of rounds in wall time (and CPU time / threads), compared with the team's peak.
// Then the x4plus (RRDBNet) conv total at 128x128 input with the per-layer best algorithm vs all-direct.
// Usage: bench_conv3x3 [seconds_per_measurement] [model|shapes]   (not a test; run by hand)
//        env BENCH_ALGOS=wino63_512,direct512 BENCH_PAIRS=64-32,192-64 BENCH_SIZES=128 restrict the shapes run.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/conv3x3_winograd.h"
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

enum class Algo { kDirect, kWino43, kWino63, kDirect512, kWino43x512, kWino63x512 };
constexpr Algo kAlgos[] = {Algo::kDirect,    Algo::kWino43,     Algo::kWino63,
                           Algo::kDirect512, Algo::kWino43x512, Algo::kWino63x512};
bool is512(Algo a) {
  return a == Algo::kDirect512 || a == Algo::kWino43x512 || a == Algo::kWino63x512;
}
const char* algo_name(Algo a) {
  switch (a) {
    case Algo::kDirect:
      return "direct";
    case Algo::kWino43:
      return "winograd43";
    case Algo::kWino63:
      return "winograd63";
    case Algo::kDirect512:  // the *_avx512 kernels are timed only on AVX-512 CPUs
      return "direct512";
    case Algo::kWino43x512:
      return "wino43_512";
    case Algo::kWino63x512:
      return "wino63_512";
  }
  return "?";
}
bool available(Algo a) {
  return !is512(a) || cpu_has_avx512f();
}
// True when $var is unset or its comma-separated list holds `item`.
bool in_env_list(const char* var, const std::string& item) {
  const char* sel = std::getenv(var);
  if (sel == nullptr) return true;
  const std::string list = std::string(",") + sel + ",";
  return list.find("," + item + ",") != std::string::npos;
}
// Filters, for runs by hand: $BENCH_ALGOS (algorithm names), $BENCH_PAIRS ("ic-oc"), $BENCH_SIZES (side).
bool selected(Algo a) {
  return in_env_list("BENCH_ALGOS", algo_name(a));
}

struct Times {
  double wall, cpu;  // best seconds per call: wall clock, and process CPU time / threads
};

// One shape's buffers and packed weights for all three algorithms.
class Bench {
 public:
  explicit Bench(const Shape& s) : s_(s), geo_{s.h, s.w}, in_buf_(geo_.floats(s.ic)), out_buf_(geo_.floats(s.oc)) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> wt(std::size_t(s.oc) * s.ic * 9);
    bias_.resize(s.oc);
    slopes_.assign(s.oc, 0.1f);
    for (float& x : wt) x = d(rng) / std::sqrt(float(s.ic * 9));
    for (float& x : bias_) x = d(rng);
    direct_ = pack_conv3x3_f32(wt.data(), s.oc, s.ic);
    direct8_ = pack_conv3x3_oc8_f32(wt.data(), s.oc, s.ic);
    w43_ = pack_conv3x3_winograd_f32(wt.data(), s.oc, s.ic, 4);
    w63_ = pack_conv3x3_winograd_f32(wt.data(), s.oc, s.ic, 6);
    if (cpu_has_avx512f()) {
      w43x8_ = pack_conv3x3_winograd_oc8_f32(wt.data(), s.oc, s.ic, 4);
      w63x8_ = pack_conv3x3_winograd_oc8_f32(wt.data(), s.oc, s.ic, 6);
    }
    in_ = PaddedPlanes{in_buf_.data(), s.ic, geo_};
    out_ = PaddedPlanes{out_buf_.data(), s.oc, geo_};
    for (int c = 0; c < s.ic; ++c)
      for (int y = 1; y <= s.h; ++y)
        for (int x = 1; x <= s.w; ++x) in_.plane(c)[y * geo_.pitch() + x] = d(rng);
    ep_.bias = bias_.data();
    ep_.act = s.act;
    ep_.leaky_slope = 0.2f;
    ep_.prelu_slopes = slopes_.data();
  }

  double flops() const { return 2.0 * s_.ic * s_.oc * 9.0 * s_.h * s_.w; }

  void call(Algo a) {
    switch (a) {
      case Algo::kDirect:
        conv3x3_direct_f32_avx2(direct_, in_, out_, ep_);
        break;
      case Algo::kWino43:
        conv3x3_winograd43_f32_avx2(w43_, in_, out_, ep_);
        break;
      case Algo::kWino63:
        conv3x3_winograd63_f32_avx2(w63_, in_, out_, ep_);
        break;
      case Algo::kDirect512:
        conv3x3_direct_f32_avx512(direct8_, in_, out_, ep_);
        break;
      case Algo::kWino43x512:
        conv3x3_winograd43_f32_avx512(w43x8_, in_, out_, ep_);
        break;
      case Algo::kWino63x512:
        conv3x3_winograd63_f32_avx512(w63x8_, in_, out_, ep_);
        break;
    }
  }

  Times time(Algo a, int threads, double seconds) {
    omp_set_num_threads(threads);
    call(a);
    call(a);
    double best = 1e30, best_cpu = 1e30, total = 0.0;
    int rounds = 0;
    while (total < seconds || rounds < 5) {
      const int reps = std::max(1, int(1.0e9 / flops()));  // rounds of ~10 ms or one call
      const double c0 = process_cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) call(a);
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double dc = (process_cpu_seconds() - c0) / threads;
      best = std::min(best, dt / reps);
      best_cpu = std::min(best_cpu, dc / reps);
      total += dt;
      ++rounds;
    }
    return {best, best_cpu};
  }

 private:
  Shape s_;
  PaddedGeometry geo_;
  AlignedBuffer in_buf_, out_buf_;
  std::vector<float> bias_, slopes_;
  PackedConv3x3 direct_;
  PackedConv3x3Oc8 direct8_;
  PackedWinograd w43_, w63_;
  PackedWinogradOc8 w43x8_, w63x8_;
  PaddedPlanes in_, out_;
  ConvEpilogue ep_;
};

struct Peaks {
  double one, team;
  int threads;
  double one512 = 0.0, team512 = 0.0;  // AVX-512 FMA peaks (0 without AVX-512): the avx512 kernel's reference
  double one_for(Algo a) const { return is512(a) ? one512 : one; }
  double team_for(Algo a) const { return is512(a) ? team512 : team; }
};

void run_shapes(const Peaks& pk, double seconds) {
  std::printf("%-16s %-11s | %9s %8s %6s | %9s %8s %6s %8s | %s\n", "shape", "algo", "1T ms", "eff GF/s", "%peak",
              "2T ms", "eff GF/s", "%peak", "cpu ms", "chosen");
  const int pairs[][2] = {{64, 64}, {192, 32}, {96, 32}, {192, 64}, {64, 3}, {3, 64}};
  const int sizes[] = {64, 128, 256, 512};
  for (const auto& pr : pairs) {
    for (const int sz : sizes) {
      if (!in_env_list("BENCH_PAIRS", std::to_string(pr[0]) + "-" + std::to_string(pr[1])) ||
          !in_env_list("BENCH_SIZES", std::to_string(sz)))
        continue;
      const Shape s{pr[0], pr[1], sz, sz, Activation::kLeakyRelu};
      Bench b(s);
      double best1 = 1e30;
      const char* win = "";
      char name[32];
      std::snprintf(name, sizeof name, "%d->%d @%d", s.ic, s.oc, sz);
      for (const Algo a : kAlgos) {
        if (!available(a) || !selected(a)) continue;
        const Times t1 = b.time(a, 1, seconds);
        const Times t2 = b.time(a, pk.threads, seconds);
        if (t1.cpu < best1) {
          best1 = t1.cpu;
          win = algo_name(a);
        }
        const double g1 = b.flops() / t1.cpu * 1e-9, g2 = b.flops() / t2.wall * 1e-9;
        std::printf("%-16s %-11s | %9.3f %8.1f %5.0f%% | %9.3f %8.1f %5.0f%% %8.3f |\n", name, algo_name(a),
                    1e3 * t1.cpu, g1, 100.0 * g1 / pk.one_for(a), 1e3 * t2.wall, g2, 100.0 * g2 / pk.team_for(a),
                    1e3 * t2.cpu);
      }
      std::printf("%-16s fastest (1T cpu): %s; conv3x3_choose_algo: %s\n", name, win,
                  conv3x3_choose_algo(s.ic, s.oc, s.h, s.w));
      std::fflush(stdout);
    }
  }
}

// realesrgan-x4plus (RRDBNet, 23 blocks x 3 dense blocks) convs at 128x128 input: distinct shapes and counts.
void run_model(const Peaks& pk, double seconds) {
  struct Layer {
    int ic, oc, scale, count;
    Activation act;
  };
  const Layer layers[] = {
      {3, 64, 1, 1, Activation::kNone},         {64, 32, 1, 69, Activation::kLeakyRelu},
      {96, 32, 1, 69, Activation::kLeakyRelu},  {128, 32, 1, 69, Activation::kLeakyRelu},
      {160, 32, 1, 69, Activation::kLeakyRelu}, {192, 64, 1, 69, Activation::kNone},
      {64, 64, 1, 1, Activation::kNone},        {64, 64, 2, 1, Activation::kLeakyRelu},
      {64, 64, 4, 2, Activation::kLeakyRelu},   {64, 3, 4, 1, Activation::kNone},
  };
  constexpr int kIn = 128;
  double macs = 0.0, t_direct[2] = {0, 0}, t_best[2] = {0, 0}, t_chosen[2] = {0, 0};
  std::printf("\nx4plus convs at %dx%d input (time per layer x count; 1T = CPU time, 2T = wall):\n", kIn, kIn);
  for (const Layer& l : layers) {
    const Shape s{l.ic, l.oc, kIn * l.scale, kIn * l.scale, l.act};
    Bench b(s);
    macs += b.flops() / 2.0 * l.count;
    const std::string chosen = conv3x3_choose_algo(s.ic, s.oc, s.h, s.w);
    double b1 = 1e30, b2 = 1e30;
    std::printf("%4d->%-4d @%-4d x%-3d", s.ic, s.oc, s.h, l.count);
    for (const Algo a : kAlgos) {
      if (!available(a) || !selected(a)) continue;
      const Times t1 = b.time(a, 1, seconds), t2 = b.time(a, pk.threads, seconds);
      std::printf(" | %s %8.2f / %8.2f ms", algo_name(a), 1e3 * t1.cpu, 1e3 * t2.wall);
      b1 = std::min(b1, t1.cpu);
      b2 = std::min(b2, t2.wall);
      if (a == Algo::kDirect) {
        t_direct[0] += t1.cpu * l.count;
        t_direct[1] += t2.wall * l.count;
      }
      if (chosen == algo_name(a)) {
        t_chosen[0] += t1.cpu * l.count;
        t_chosen[1] += t2.wall * l.count;
      }
    }
    t_best[0] += b1 * l.count;
    t_best[1] += b2 * l.count;
    std::printf(" | chosen %s\n", chosen.c_str());
    std::fflush(stdout);
  }
  const double f = 2.0 * macs * 1e-9;
  std::printf("model MACs %.3f G (%.2f M per input pixel)\n", macs * 1e-9, macs / (kIn * kIn) * 1e-6);
  const char* names[3] = {"all direct", "per-layer best", "conv3x3_choose_algo"};
  const double* ts[3] = {t_direct, t_best, t_chosen};
  for (int k = 0; k < 3; ++k)
    std::printf("%-20s 1T %8.1f ms  eff %6.1f GF/s = %.2fx 1T peak | 2T %8.1f ms  eff %6.1f GF/s = %.2fx 2T peak\n",
                names[k], 1e3 * ts[k][0], f / ts[k][0], f / ts[k][0] / pk.one, 1e3 * ts[k][1], f / ts[k][1],
                f / ts[k][1] / pk.team);
}

}  // namespace

int main(int argc, char** argv) {
  if (!cpu_has_avx2_fma()) {
    std::printf("cpu lacks avx2/fma: nothing to benchmark\n");
    return 0;
  }
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
  const std::string what = argc > 2 ? argv[2] : "all";
  Peaks pk;
  pk.threads = omp_get_max_threads();
  pk.team = measure_fma_peak_gflops_avx2(0.5);
  pk.one = measure_fma_peak_gflops_avx2(0.5, 1);
  std::printf("threads %d, measured fp32 FMA peak: %.1f GFLOP/s (1 thread: %.1f)\n", pk.threads, pk.team, pk.one);
  if (cpu_has_avx512f()) {
    pk.team512 = measure_fma_peak_gflops_avx512(0.5);
    pk.one512 = measure_fma_peak_gflops_avx512(0.5, 1);
    if (pk.team512 < 0.8 * pk.threads * pk.one512) {  // a busy machine stalls the team's rounds on one thread
      std::printf("AVX-512 team peak probe disturbed (%.1f GFLOP/s): using threads x 1-thread peak\n", pk.team512);
      pk.team512 = pk.threads * pk.one512;
    }
    std::printf("AVX-512 fp32 FMA peak: %.1f GFLOP/s (1 thread: %.1f); direct512 rows: %%peak of this one\n",
                pk.team512, pk.one512);
  }
  if (what == "all" || what == "shapes") run_shapes(pk, seconds);
  if (what == "all" || what == "model") run_model(pk, seconds);
  return 0;
}
