// bench_conv3x3_int8: the INT8 conv (Conv3x3Int8Impl: input quantization + kernel, and the kernel alone) vs the
// fp32 conv of the default dispatch (Conv3x3Impl, i.e. Winograd on AVX-512 CPUs) on the Real-ESRGAN shapes, in one
// run, next to the measured VNNI peak; then whole models (x4fast at 256x256, x4plus at 128x128), fp32 vs every
// Conv2d set to INT8 (weight scales max|w|/127, input scale 4/127: a timing stand-in, not a calibration).
// Times are the best of rounds: 1T in process CPU time (robust when other processes share the cores), 2T (the
// default team) in wall time. GMAC/s counts the direct algorithm's 9 * ic * oc * h * w multiply-adds.
// Usage: bench_conv3x3_int8 [seconds_per_measurement] [--no-models]   (not a test; run by hand)
//        env BENCH_PAIRS=64-64,192-32 BENCH_SIZES=128,256 restrict the shapes.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/conv3x3_impl.h"
#include "backends/cpu/conv3x3_int8_impl.h"
#include "backends/cpu/executor.h"
#include "backends/cpu/vnni_peak.h"
#include "conv_test_support.h"
#include "engine/model_loader.h"

namespace {

using namespace resr;
using namespace resr::cpu;

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best seconds per call of f(): with one thread in CPU time, else in wall time.
template <class F>
double best_time(F&& f, double seconds, int threads) {
  omp_set_num_threads(threads);
  f();  // warm up
  double best = 1e30, total = 0;
  int rounds = 0;
  while (total < seconds || rounds < 3) {
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double t = threads == 1 ? process_cpu_seconds() - c0 : wall;
    best = std::min(best, t);
    total += wall;
    ++rounds;
  }
  return best;
}

bool in_env_list(const char* var, const std::string& item) {
  const char* sel = std::getenv(var);
  if (sel == nullptr) return true;
  const std::string list = std::string(",") + sel + ",";
  return list.find("," + item + ",") != std::string::npos;
}

void bench_shapes(double seconds, const double peak[3], int team) {
  const int pairs[][2] = {{64, 64}, {192, 32}, {64, 32}, {192, 64}};
  std::printf("%-14s %3s %9s %9s %9s %7s %7s %9s\n", "shape", "thr", "fp32 ms", "int8 ms", "kern ms", "speedup",
              "kern x", "kern %pk");
  for (const auto& pr : pairs) {
    const int ic = pr[0], oc = pr[1];
    if (!in_env_list("BENCH_PAIRS", std::to_string(ic) + "-" + std::to_string(oc))) continue;
    for (int side : {128, 256}) {
      if (!in_env_list("BENCH_SIZES", std::to_string(side))) continue;
      std::mt19937 rng(7);
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      std::vector<float> wt(std::size_t(oc) * ic * 9), bias(oc), slopes(oc, 0.1f);
      for (float& x : wt) x = d(rng) / std::sqrt(float(ic * 9));
      for (float& x : bias) x = 0.1f * d(rng);
      const std::vector<float> scales = test::max_abs_scales(wt, oc);
      const PaddedGeometry geo{side, side};
      AlignedBuffer in_buf(geo.floats(ic)), out_buf(geo.floats(oc));
      const PaddedPlanes in{in_buf.data(), ic, geo}, out{out_buf.data(), oc, geo};
      for (int c = 0; c < ic; ++c)
        for (int y = 1; y <= side; ++y)
          for (int x = 1; x <= side; ++x) in.plane(c)[y * geo.pitch() + x] = d(rng);
      ConvEpilogue ep;
      ep.bias = bias.data();
      ep.act = Activation::kLeakyRelu;
      ep.leaky_slope = 0.2f;

      const Conv3x3Impl f32 = Conv3x3Impl::create(wt.data(), oc, ic, ir::Precision::kFp32, "bench");
      const Conv3x3Int8Impl i8 =
          Conv3x3Int8Impl::create(wt.data(), scales.data(), oc, ic, U8Quant::symmetric(1.0f / 127), "bench");
      AlignedBuffer scratch_buf((i8.scratch_bytes(geo) + 3) / 4);
      auto* scratch = reinterpret_cast<std::uint8_t*>(scratch_buf.data());
      // The chosen kernel alone, on an input quantized once.
      const QuantizedPlanes q = i8.quantize(in, scratch);
      const double macs = 9.0 * ic * oc * side * side;
      for (int threads : {1, 0}) {
        const int t = threads == 0 ? team : 1;
        const double tf = best_time([&] { f32.run(in, out, ep); }, seconds, t);
        const double ti = best_time([&] { i8.run(in, scratch, out, ep); }, seconds, t);
        const double tk = best_time([&] { i8.run(q, out, ep); }, seconds, t);
        char name[32];
        std::snprintf(name, sizeof name, "%d->%d@%d", ic, oc, side);
        const double pk = threads == 1 ? peak[1] : peak[2];
        std::printf("%-14s %3d %9.3f %9.3f %9.3f %6.2fx %6.2fx %8.1f%%\n", name, t, tf * 1e3, ti * 1e3, tk * 1e3,
                    tf / ti, tf / tk, pk > 0 ? 100.0 * macs / tk * 1e-9 / pk : 0.0);
      }
      std::printf("  (%s vs %s)\n", f32.kernel_name(), i8.kernel_name());
    }
  }
}

// Every Conv2d of the graph to INT8: weight scales max|w|/127 per output channel, symmetric input scale 4/127.
std::shared_ptr<ir::Graph> all_int8(const ir::Graph& g) {
  auto q = std::make_shared<ir::Graph>(g);
  for (ir::Node& n : q->nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    n.quant.precision = ir::Precision::kInt8;
    n.quant.in_scale = 4.0f / 127;
    n.quant.in_zero = 0;
    n.quant.asymmetric = false;
    n.quant.weight_scales = test::max_abs_scales(n.weights, n.conv.out_channels);
  }
  return q;
}

// Per-kernel totals of one timed run.
std::map<std::string, double> kernel_ms(Executable& exe) {
  std::map<std::string, double> m;
  for (const StepTime& t : exe.step_times()) m[t.kernel] += t.ms / std::max(1, t.runs);
  return m;
}

void bench_model(const std::string& name, int side, int iters) {
  Result<engine::LoadedModel> m = engine::load_model(engine::ModelSource{"", name});
  if (!m.ok()) {
    std::printf("%s: %s (skipped)\n", name.c_str(), m.status().message().c_str());
    return;
  }
  auto f32 = resr::cpu::compile(m->graph);
  auto i8 = resr::cpu::compile(all_int8(*m->graph));
  Tensor in(3, side, side);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.0f, 1.0f);
  for (std::int64_t k = 0; k < in.numel(); ++k) in.data()[k] = d(rng);
  // With one thread (OMP_NUM_THREADS=1) in process CPU time, else in wall time.
  const bool one = omp_get_max_threads() == 1;
  auto time_run = [&](Executable& e) {
    (void)e.run(in);
    double best = 1e30;
    for (int i = 0; i < iters; ++i) {
      const double c0 = process_cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      (void)e.run(in);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, one ? process_cpu_seconds() - c0 : wall);
    }
    return best;
  };
  // Interleaved rounds so that both see the same machine load; the best of each.
  double tf = 1e30, ti = 1e30;
  for (int r = 0; r < 4; ++r) {
    tf = std::min(tf, time_run(*f32));
    ti = std::min(ti, time_run(*i8));
  }
  std::printf("%s @%dx%d, %d thread(s): fp32 %.1f ms, int8 %.1f ms: %.2fx\n", name.c_str(), side, side,
              omp_get_max_threads(), tf * 1e3, ti * 1e3, tf / ti);
  f32->set_step_timing(true);
  i8->set_step_timing(true);
  for (int i = 0; i < iters; ++i) {
    (void)f32->run(in);
    (void)i8->run(in);
  }
  std::printf("  per kernel (wall ms per run, mean of %d):\n", iters);
  for (auto* e : {f32.get(), i8.get()})
    for (const auto& [k, ms] : kernel_ms(*e)) std::printf("    %-32s %8.2f ms\n", k.c_str(), ms);
  if (std::getenv("BENCH_STEPS") != nullptr)
    for (auto* e : {f32.get(), i8.get()})
      for (const StepTime& t : e->step_times())
        std::printf("    %-24s %-30s %-18s %8.2f ms\n", t.name.c_str(), t.kernel.c_str(), t.shape.c_str(),
                    t.ms / std::max(1, t.runs));
}

}  // namespace

int main(int argc, char** argv) {
  const int team = omp_get_max_threads();
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
  const bool models = !(argc > 2 && std::strcmp(argv[2], "--no-models") == 0);
  double peak[3] = {0, 0, 0};  // [1]: one thread, [2]: all
  if (cpu_has_avx512_vnni()) {
    peak[1] = measure_vnni_peak_gmacs(0.3, 1);
    peak[2] = measure_vnni_peak_gmacs(0.3, team);
    std::printf("VNNI peak: %.0f GMAC/s (1 thread), %.0f GMAC/s (%d threads)\n", peak[1], peak[2], team);
  }
  bench_shapes(seconds, peak, team);
  omp_set_num_threads(team);
  if (models) {
    bench_model("x4fast", 256, 2);
    bench_model("x4plus", 128, 1);
  }
  return 0;
}
