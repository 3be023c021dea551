// resr bench: inference time of one model on a random input of a given size (no image I/O).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "commands.h"
#include "engine/backend_factory.h"
#include "model_options.h"

namespace resr::cli {
namespace {

struct BenchOptions {
  ModelOptions model;
  std::string size = "64x64";
  int iters = 3;
  int warmup = 1;
  bool json = false;
  bool layers = false;
};

// Per-step times grouped by kernel and shape, in first-seen order, as milliseconds per run.
void print_layers(const std::vector<StepTime>& steps, double total_ms) {
  struct Group {
    std::string kernel, shape;
    int count = 0;
    double ms = 0, macs = 0;
  };
  std::vector<Group> groups;
  for (const StepTime& t : steps) {
    if (t.runs == 0) continue;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.kernel == t.kernel && g.shape == t.shape; });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{t.kernel, t.shape});
    ++it->count;
    it->ms += t.ms / t.runs;
    it->macs += t.macs;
  }
  std::printf("%-30s %-20s %6s %10s %7s %12s\n", "kernel", "shape", "steps", "ms/run", "share", "eff. GFLOP/s");
  for (const Group& g : groups) {
    std::printf("%-30s %-20s %6d %10.2f %6.1f%%", g.kernel.c_str(), g.shape.c_str(), g.count, g.ms,
                100.0 * g.ms / total_ms);
    if (g.macs > 0) std::printf(" %12.1f", 2.0 * g.macs / (g.ms * 1e6));
    std::printf("\n");
  }
}

int run_bench(const BenchOptions& o) {
  int w = 0, h = 0;
  if (std::sscanf(o.size.c_str(), "%dx%d", &w, &h) != 2 || w < 1 || h < 1 || w > 8192 || h > 8192)
    return fail("--size: expected WxH, e.g. 128x128, got '" + o.size + "'");
  auto model = engine::load_model(o.model.source);
  if (!model) return fail(model.status().message());
  auto exe = engine::make_executable(model->graph, o.model.backend);
  if (!exe) return fail(exe.status().message());
  Tensor input(3, h, w);
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  for (std::int64_t i = 0; i < input.numel(); ++i) input.data()[i] = dist(rng);
  std::vector<double> ms;
  for (int i = 0; i < o.warmup + o.iters; ++i) {
    if (o.layers && i == o.warmup) (*exe)->set_step_timing(true);
    const auto t0 = std::chrono::steady_clock::now();
    auto out = (*exe)->run(input);
    const auto t1 = std::chrono::steady_clock::now();
    if (!out) return fail(out.status().message());
    if (i >= o.warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double best = ms.front(), median = ms[ms.size() / 2];
  const double gflops = 2.0 * model->summary.macs_per_pixel * w * h / (best * 1e6);
  std::string short_name = model->name;
  if (short_name.rfind("realesrgan-", 0) == 0) short_name = short_name.substr(11);
  if (o.layers) {
    double steps_ms = 0;
    for (const StepTime& t : (*exe)->step_times()) steps_ms += t.runs > 0 ? t.ms / t.runs : 0;
    print_layers((*exe)->step_times(), steps_ms);
  }
  if (o.json) {
    nlohmann::json j = {{"tool", "resr"},
                        {"model", short_name},
                        {"backend", o.model.backend},
                        {"size", {w, h}},
                        {"threads", omp_get_max_threads()},
                        {"iters", o.iters},
                        {"best_ms", best},
                        {"median_ms", median},
                        {"gflops", gflops}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s %dx%d on %s, %d threads: best %.1f ms, median %.1f ms over %d runs (%.1f GFLOP/s)\n",
                short_name.c_str(), w, h, (*exe)->backend_name().c_str(), omp_get_max_threads(), best, median, o.iters,
                gflops);
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action* action) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "time inference of a model on a random input");
  opts->model.add_to(*cmd);
  cmd->add_option("--size", opts->size, "input size WxH (default 64x64)");
  cmd->add_option("--iters", opts->iters, "timed runs (default 3)")->check(CLI::Range(1, 10000));
  cmd->add_option("--warmup", opts->warmup, "untimed runs first (default 1)")->check(CLI::Range(0, 100));
  cmd->add_flag("--json", opts->json, "print one JSON object");
  cmd->add_flag("--layers", opts->layers, "time every step; print ms per kernel and shape");
  cmd->callback([opts, action] { *action = [opts] { return run_bench(*opts); }; });
}

}  // namespace resr::cli
