// The CUDA backend (built when CMake finds nvcc + cuDNN) on the real x4fast / x4plus models: FP32 within 1e-3
// max abs of the golden outputs (tests/data), FP16 (every conv rounded to binary16) >= 50 dB PSNR against them.
// Without a GPU these tests skip with the reason, and the one that checks the refusal runs instead.
#include <cudnn.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_executable.h"
#include "backends/cuda/device.h"
#include "backends/cuda/tensor_conv_math.h"
#include "engine/backend_factory.h"
#include "engine/compiled_model.h"
#include "engine/model_loader.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "image/convert.h"
#include "quant/quantize_graph.h"
#include "support/compare.h"
#include "support/golden_case.h"
#include "support/npy.h"
#include "support/paths.h"
#include "support/quantized_model.h"
#include "support/scoped_env.h"
#include "support/temp_dir.h"

namespace resr {
namespace {

#define RESR_SKIP_WITHOUT_GPU()                                                             \
  do {                                                                                      \
    const cuda::DeviceInfo dev = cuda::query_devices();                                     \
    if (dev.count == 0) GTEST_SKIP() << "no CUDA GPU here (" << dev.reason << "): skipped"; \
  } while (0)

TEST(CudaBackend, WithoutGpuCompileFailsWithOneLine) {
  const cuda::DeviceInfo dev = cuda::query_devices();
  if (dev.count > 0) GTEST_SKIP() << "a GPU is present (" << dev.name << ")";
  EXPECT_FALSE(dev.reason.empty());
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto exe = engine::make_executable(model->graph, "cuda");
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("no CUDA GPU"), std::string::npos) << exe.status().message();
  EXPECT_EQ(exe.status().message().find('\n'), std::string::npos);
}

// Whether RESR_CUDA_TENSOR_CONV=warpgroup runs its convs by wgmma here: compute capability 9.0, and the form not
// turned off (RESR_CUDA_TENSOR_WARPGROUP=0, as bench/gpu_check.sh does where its own test failed).
bool warpgroup_expected() {
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  const char* off = std::getenv("RESR_CUDA_TENSOR_WARPGROUP");
  return major == 9 && minor == 0 && !(off != nullptr && std::string(off) == "0");
}

// Whether the executable's last run replayed its captured CUDA graph: capture failure falls back to launching
// step by step silently, so that the tests would otherwise compare eager runs only.
bool replayed_graph(const Executable& e) {
  const auto* gpu = dynamic_cast<const cuda::CudaExecutable*>(&e);
  return gpu != nullptr && gpu->last_run_replayed_graph();
}

// Runs `exe` again untimed (so from its CUDA graph) and expects the same bits as `timed`, the step-by-step run.
void expect_replay_equals(Executable& exe, const Tensor& input, const Tensor& timed, const std::string& what) {
  exe.set_step_timing(false);
  auto replayed = exe.run(input);
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_TRUE(replayed_graph(exe)) << what << ": the steps were not captured as a CUDA graph";
  ASSERT_EQ(replayed->numel(), timed.numel());
  EXPECT_EQ(test::max_abs_error(replayed->data(), timed.data(), std::size_t(timed.numel())), 0.0)
      << what << ": the CUDA graph's replay and the step-by-step run differ";
}

struct Case {
  const char* model;
  const char* stem;
  bool fp16;
  // RESR_CUDA_FUSED: "1", conv + epilogue as one cuDNN graph (fp16); "auto", each conv on its faster path; "0", the
  // legacy path (cuDNN's conv, then the epilogue kernel), whatever the environment says
  const char* fused = nullptr;
  // RESR_CUDA_TENSOR_CONV: "1", every conv resr's tensor-core kernel can run (fp16); "warpgroup", the same on its
  // warpgroup (wgmma) form where the device has it; "auto", where it matched cuDNN on test data and ran faster
  const char* tensor = nullptr;
};

class CudaGolden : public ::testing::TestWithParam<Case> {};

TEST_P(CudaGolden, MatchesGoldenOutput) {
  RESR_SKIP_WITHOUT_GPU();
  const Case& c = GetParam();
  auto data = test::load_golden_case(c.model, c.stem);
  ASSERT_TRUE(data.ok()) << data.status().message();
  const test::NpyArray* golden = &data->golden;
  std::shared_ptr<const ir::Graph> graph = data->model.graph;
  if (c.fp16) {
    auto g = std::make_shared<ir::Graph>(*graph);
    ASSERT_TRUE(quant::round_to_fp16(*g).ok());
    graph = g;
  }
  auto exe = [&] {
    std::optional<test::ScopedEnv> fused, tensor;
    if (c.fused != nullptr) fused.emplace("RESR_CUDA_FUSED", c.fused);
    if (c.tensor != nullptr) tensor.emplace("RESR_CUDA_TENSOR_CONV", c.tensor);
    return engine::make_executable(graph, "cuda");
  }();
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  // Timed runs launch step by step (no CUDA graph): a tensor-core case is checked on its graph's replay, then run
  // timed to see which path each conv took, with the same output.
  if (c.fused != nullptr && c.tensor == nullptr) (*exe)->set_step_timing(true);  // to see which path each conv took
  auto out = (*exe)->run(data->input);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->numel(), std::int64_t(golden->data.size()));
  if (c.tensor != nullptr) {
    EXPECT_TRUE(replayed_graph(**exe)) << "the steps were not captured as a CUDA graph";
    (*exe)->set_step_timing(true);
    auto timed = (*exe)->run(data->input);
    ASSERT_TRUE(timed.ok()) << timed.status().message();
    EXPECT_EQ(test::max_abs_error(timed->data(), out->data(), std::size_t(out->numel())), 0.0)
        << "step by step and the CUDA graph's replay differ";
  }
  if (c.fused != nullptr) {
    int fused = 0, convs = 0;
    for (const StepTime& t : (*exe)->step_times()) {
      convs += t.kernel.find("conv") != std::string::npos;
      fused += t.kernel.find("one cuDNN graph") != std::string::npos;
    }
    std::printf("[ cuda ] %s fused=%s: %d of %d convs ran as one cuDNN graph\n", c.model, c.fused, fused, convs);
    if (std::string(c.fused) == "1") {
      EXPECT_GT(fused, 0);
    }
    if (std::string(c.fused) == "0") {
      EXPECT_EQ(fused, 0);
    }
    if (c.tensor == nullptr) expect_replay_equals(**exe, data->input, *out, std::string("fused=") + c.fused);
  }
  if (c.tensor != nullptr) {
    int tensor = 0, convs = 0, wgmma = 0;
    for (const StepTime& t : (*exe)->step_times()) {
      convs += t.kernel.find("conv") != std::string::npos;
      tensor += t.kernel.find("resr tensor cores") != std::string::npos;
      wgmma += t.kernel.find("wgmma") != std::string::npos;
    }
    std::printf("[ cuda ] %s tensor=%s: %d of %d convs ran resr's tensor-core kernel, %d by wgmma\n", c.model, c.tensor,
                tensor, convs, wgmma);
    // =1: every conv of the kernel's form (x4plus: all but the first, 3 inputs, and the last, 3 outputs).
    int of_its_form = 0;
    for (const ir::Node& n : graph->nodes)
      of_its_form += n.op == ir::Op::kConv2d &&
                     cuda::tensor_conv::computes(n.conv.in_channels, n.conv.out_channels, n.conv.kernel_h,
                                                 n.conv.kernel_w, n.conv.stride, n.conv.pad, n.conv.dilation);
    if (std::string(c.tensor) != "auto") {
      EXPECT_EQ(tensor, of_its_form);
      EXPECT_GE(tensor, convs - 2);
    }
    // =warpgroup on an H100/H200 (compute capability 9.0): all of them by wgmma; =1 by mma.sync
    if (std::string(c.tensor) == "warpgroup" && warpgroup_expected()) {
      EXPECT_EQ(wgmma, tensor);
    }
    if (std::string(c.tensor) == "1") {
      EXPECT_EQ(wgmma, 0);
    }
  }
  const double max_err = test::max_abs_error(out->data(), golden->data.data(), std::size_t(out->numel()));
  double sq = 0;
  for (std::int64_t i = 0; i < out->numel(); ++i) {
    const double d = double(out->data()[i]) - golden->data[i];
    sq += d * d;
  }
  const double psnr = 10.0 * std::log10(1.0 / std::max(sq / double(out->numel()), 1e-30));
  std::printf("[ cuda ] %s %s %s%s%s: max abs error %.3g, PSNR %.2f dB\n", c.model, c.stem, c.fp16 ? "fp16" : "fp32",
              c.fused != nullptr ? (std::string(" fused=") + c.fused).c_str() : "",
              c.tensor != nullptr ? (std::string(" tensor=") + c.tensor).c_str() : "", max_err, psnr);
  if (c.fp16) {
    EXPECT_GE(psnr, 50.0);
  } else {
    EXPECT_LE(max_err, 1e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(RealModels, CudaGolden,
                         ::testing::Values(Case{"realesrgan-x4fast", "x4fast_37x29", false},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", false},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true, "0"},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true, "0"},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true, "1"},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true, "1"},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true, "auto"},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true, "auto"},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true, nullptr, "1"},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true, nullptr, "1"},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true, nullptr, "warpgroup"},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true, nullptr, "warpgroup"},
                                           Case{"realesrgan-x4fast", "x4fast_37x29", true, "1", "auto"},
                                           Case{"realesrgan-x4plus", "x4plus_23x19", true, "1", "auto"}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           const auto suffix = [](const char* mode, const std::string& name) {
                             if (mode == nullptr) return std::string();
                             if (std::string(mode) == "0") return std::string("_legacy");  // fused graphs off
                             if (std::string(mode) == "1") return name;
                             return name + "_" + mode;
                           };
                           return std::string(i.param.stem) + (i.param.fp16 ? "_fp16" : "_fp32") +
                                  suffix(i.param.fused, "_fused") + suffix(i.param.tensor, "_tensor");
                         });

// Upscaling's default on the GPU (BackendOptions::fp32_as_fp16, unless --fp32): an FP32 model runs in FP16 and
// passes the FP16 gate; kept FP32, it passes the FP32 one.
TEST(CudaBackend, Fp32ModelsRunInFp16UnlessKeptFp32) {
  RESR_SKIP_WITHOUT_GPU();
  auto data = test::load_golden_case("realesrgan-x4fast", "x4fast_37x29");
  ASSERT_TRUE(data.ok()) << data.status().message();
  for (const bool half : {true, false}) {
    auto exe = engine::make_executable(data->model.graph, "cuda", engine::BackendOptions{half});
    ASSERT_TRUE(exe.ok()) << exe.status().message();
    EXPECT_NE((*exe)->backend_name().find(half ? "fp16" : "fp32"), std::string::npos) << (*exe)->backend_name();
    auto out = (*exe)->run(data->input);
    ASSERT_TRUE(out.ok()) << out.status().message();
    ASSERT_EQ(out->numel(), std::int64_t(data->golden.data.size()));
    const double max_err = test::max_abs_error(out->data(), data->golden.data.data(), std::size_t(out->numel()));
    double sq = 0;
    for (std::int64_t i = 0; i < out->numel(); ++i) {
      const double d = double(out->data()[i]) - data->golden.data[std::size_t(i)];
      sq += d * d;
    }
    const double psnr = 10.0 * std::log10(1.0 / std::max(sq / double(out->numel()), 1e-30));
    std::printf("[ cuda ] x4fast FP32 model, %s: max abs error %.3g, PSNR %.2f dB\n", half ? "as FP16" : "kept FP32",
                max_err, psnr);
    if (half) {
      EXPECT_GE(psnr, 50.0);
      EXPECT_GT(max_err, 1e-6);  // binary16 arithmetic shows
    } else {
      EXPECT_LE(max_err, 1e-3);
    }
  }
}

// The start-up overlap (cuda::start_warm_up): a handle made in the background goes to one taker, once; without a
// GPU there is none, and nothing fails.
TEST(CudaBackend, WarmUpHandsItsHandleOverOnce) {
  cuda::start_warm_up();
  cuda::start_warm_up();  // a second call does nothing
  cudnnContext* h = cuda::take_warm_handle();
  EXPECT_EQ(h != nullptr, cuda::query_devices().count > 0);
  if (h != nullptr) cudnnDestroy(h);
  EXPECT_EQ(cuda::take_warm_handle(), nullptr);
  cuda::end_warm_up();  // nothing left to release
}

// "auto" is cuda exactly when a GPU is here, and the graph has no INT8 convs or has FP8 ones.
TEST(CudaBackend, AutoPicksCudaOnlyWithAGpu) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const bool gpu = cuda::query_devices().count > 0;
  EXPECT_EQ(engine::resolve_backend(*model->graph, "auto"), gpu ? "cuda" : "cpu");
  EXPECT_EQ(engine::resolve_backend(*model->graph, "cpu"), "cpu");
  ir::Graph int8 = *model->graph;
  for (ir::Node& n : int8.nodes)
    if (n.op == ir::Op::kConv2d) n.quant.precision = ir::Precision::kInt8;
  EXPECT_EQ(engine::resolve_backend(int8, "auto"), "cpu");
  ir::Graph mixed = int8;
  for (ir::Node& n : mixed.nodes)
    if (n.op == ir::Op::kConv2d) {
      n.quant.precision = ir::Precision::kFp8;  // one FP8 conv: made for Hopper
      break;
    }
  EXPECT_EQ(engine::resolve_backend(mixed, "auto"), gpu ? "cuda" : "cpu");
}

Tensor ramp_input(int h, int w) {
  Tensor t(3, h, w);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float((i * 29) % 97) / 96.0f;
  return t;
}

// Runs replayed from the captured CUDA graph give the same bits as steps launched one by one.
TEST(CudaBackend, GraphReplayMatchesEagerLaunches) {
  RESR_SKIP_WITHOUT_GPU();
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto eager = [&] {
    const test::ScopedEnv no_graphs("RESR_CUDA_GRAPHS", "0");
    return engine::make_executable(model->graph, "cuda");
  }();
  auto graphs = engine::make_executable(model->graph, "cuda");
  ASSERT_TRUE(eager.ok() && graphs.ok());
  const Tensor in = ramp_input(40, 52);
  auto want = (*eager)->run(in);
  ASSERT_TRUE(want.ok()) << want.status().message();
  EXPECT_FALSE(replayed_graph(**eager));
  for (int run = 0; run < 3; ++run) {  // capture, then replays
    auto got = (*graphs)->run(in);
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_TRUE(replayed_graph(**graphs)) << "run " << run << ": the steps were not captured as a CUDA graph";
    ASSERT_EQ(got->numel(), want->numel());
    EXPECT_EQ(std::memcmp(got->data(), want->data(), want->numel() * sizeof(float)), 0) << "run " << run;
    EXPECT_GT((*graphs)->last_device_ms(), 0.0);
  }
}

// x4fast rounded to FP16, compiled with a plan cache of its own ($RESR_CACHE_DIR): what a process would find.
// The directory, and every variable a test sets, go at the end, even when the test fails.
class CudaPlanCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RESR_SKIP_WITHOUT_GPU();
    auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto g = std::make_shared<ir::Graph>(*model->graph);
    ASSERT_TRUE(quant::round_to_fp16(*g).ok());
    graph_ = g;
    set_env("RESR_CACHE_DIR", dir_.c_str());
  }
  void TearDown() override {
    while (!env_.empty()) env_.pop_back();  // the last set first: a variable set twice gets its first value back
  }
  // `value` null: unset.
  void set_env(const char* name, const char* value) { env_.push_back(std::make_unique<test::ScopedEnv>(name, value)); }
  // A new executable's output for `in` (its first run of that size makes the plan); `log`: what it printed on
  // stderr meanwhile; `ms`: compile and run, wall.
  std::vector<float> compile_and_run(const Tensor& in, std::string* log = nullptr, double* ms = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    auto exe = engine::make_executable(graph_, "cuda");
    EXPECT_TRUE(exe.ok()) << exe.status().message();
    if (!exe.ok()) return {};
    if (log != nullptr) ::testing::internal::CaptureStderr();
    auto out = (*exe)->run(in);
    if (log != nullptr) *log = ::testing::internal::GetCapturedStderr();
    if (ms != nullptr)
      *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    backend_name_ = (*exe)->backend_name();
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? std::vector<float>(out->data(), out->data() + out->numel()) : std::vector<float>();
  }

  std::shared_ptr<const ir::Graph> graph_;
  const test::ScopedTempDir tmp_{"resr_cuda_plan_cache_"};
  const std::filesystem::path& dir_ = tmp_.path();
  std::vector<std::unique_ptr<test::ScopedEnv>> env_;
  std::string backend_name_;  // of the last executable
};

// A second executable of the same model (as a second process would) takes the fused plans and the measured
// algorithms from the plan cache the first one filled, and gives the same bits.
TEST_F(CudaPlanCacheTest, PlanCacheServesALaterCompileWithTheSameOutput) {
  set_env("RESR_CUDA_FUSED", "1");
  const Tensor in = ramp_input(40, 52);
  std::vector<float> outputs[2];
  double ms[2] = {0, 0};
  for (int k = 0; k < 2; ++k) outputs[k] = compile_and_run(in, nullptr, &ms[k]);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "cuda")) entries += e.path().extension() == ".plan";
  std::printf("[ cuda ] plan cache: %d entries; compile + first run %.0f ms with an empty cache, %.0f ms from it\n",
              entries, ms[0], ms[1]);
  // x4fast: two fused graphs and the algorithms of its legacy convs (and, where the graphs compiled for the
  // device's properties, the verdict on such plans)
  EXPECT_GE(entries, 3);
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
}

// Fused graphs compiled for the GPU's properties on every core (the default with cuDNN >= 9.8) run on the handle
// as those compiled on it, one at a time (RESR_CUDA_PARALLEL_COMPILE=0), do: as many graphs get plans, none needs
// compiling again on the handle, and the outputs agree (the timed choice of engine may differ, so within fp16
// rounding, not bit for bit). A plan cache of its own each, so that both compile every graph and the first run
// for the properties finds no verdict on such plans in the cache.
TEST_F(CudaPlanCacheTest, FusedGraphsCompiledForTheDevicePropertiesRunOnTheHandle) {
  if (cudnnGetVersion() < 90800) GTEST_SKIP() << "cuDNN " << cudnnGetVersion() << " has no device properties (9.8)";
  set_env("RESR_CUDA_FUSED", "1");
  set_env("RESR_VERBOSE", "plans");
  const Tensor in = ramp_input(40, 52);
  std::vector<float> outputs[2];
  std::string lines[2];
  double ms[2] = {0, 0};
  int compiled[2] = {-1, -1};
  for (int k = 0; k < 2; ++k) {
    const test::ScopedTempDir cache("resr_deviceless_cache_");
    set_env("RESR_CACHE_DIR", cache.path().c_str());
    set_env("RESR_CUDA_PARALLEL_COMPILE", k == 0 ? "0" : nullptr);
    outputs[k] = compile_and_run(in, &lines[k], &ms[k]);
    const std::size_t at = lines[k].find("cuDNN conv graphs: ");
    ASSERT_NE(at, std::string::npos) << lines[k];
    ASSERT_EQ(std::sscanf(lines[k].c_str() + at, "cuDNN conv graphs: %d compiled", &compiled[k]), 1) << lines[k];
  }
  std::printf(
      "[ cuda ] fused x4fast compiled on the handle (%.0f ms with the first run): %s[ cuda ] for the device's "
      "properties (%.0f ms): %s",
      ms[0], lines[0].c_str(), ms[1], lines[1].c_str());
  EXPECT_NE(lines[0].find("on the handle"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("for the device's properties"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].find("compiled again on the handle"), std::string::npos) << lines[1];
  EXPECT_GE(compiled[0], 2);  // x4fast's two distinct graphs
  EXPECT_EQ(compiled[1], compiled[0]);
  ASSERT_FALSE(outputs[0].empty());
  ASSERT_EQ(outputs[0].size(), outputs[1].size());
  float worst = 0;
  for (std::size_t i = 0; i < outputs[0].size(); ++i) worst = std::max(worst, std::fabs(outputs[0][i] - outputs[1][i]));
  EXPECT_LE(worst, 1e-2f);
}

// RESR_CUDA_FUSED=auto: the first executable checks each fused graph against its legacy path on test data (none
// may differ), times both and keeps the faster; a second one (as a later process would) takes the same paths from
// the plan cache, so the same bits.
// RESR_CUDA_TENSOR_CONV=auto: every cut of resr's tensor-core conv matches cuDNN on the test data (no "differs
// by" in the planning line), and the verdicts made by the first process are taken from the plan cache by the
// next, which then runs the same convs the same way.
TEST_F(CudaPlanCacheTest, TensorConvVerdictsAreKeptInThePlanCache) {
  set_env("RESR_CUDA_FUSED", "1");
  set_env("RESR_CUDA_TENSOR_CONV", "auto");
  set_env("RESR_VERBOSE", "plans");
  const Tensor in = ramp_input(64, 80);
  std::vector<float> outputs[2];
  std::string lines[2];
  int tensor[2] = {-1, -1}, convs[2] = {-1, -1};
  for (int k = 0; k < 2; ++k) {
    outputs[k] = compile_and_run(in, &lines[k]);
    EXPECT_NE(backend_name_.find("tensor-core convs where faster"), std::string::npos) << backend_name_;
    const std::size_t at = lines[k].find("resr tensor-core convs ");
    ASSERT_NE(at, std::string::npos) << lines[k];
    ASSERT_EQ(std::sscanf(lines[k].c_str() + at, "resr tensor-core convs %d of %d", &tensor[k], &convs[k]), 2);
  }
  std::printf("[ cuda ] tensor-core verdicts, empty cache: %s[ cuda ] from the cache: %s", lines[0].c_str(),
              lines[1].c_str());
  EXPECT_EQ(lines[0].find("differs by"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("from the plan cache"), std::string::npos);
  EXPECT_NE(lines[1].find("from the plan cache"), std::string::npos) << lines[1];
  EXPECT_EQ(tensor[1], tensor[0]);
  EXPECT_EQ(convs[1], convs[0]);
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST_F(CudaPlanCacheTest, AutoFusionChoosesPathsOnceAndKeepsThemInThePlanCache) {
  set_env("RESR_CUDA_FUSED", "auto");
  set_env("RESR_VERBOSE", "plans");
  const Tensor in = ramp_input(64, 80);
  std::vector<float> outputs[2];
  std::string lines[2];
  for (int k = 0; k < 2; ++k) {
    outputs[k] = compile_and_run(in, &lines[k]);
    EXPECT_NE(backend_name_.find("where faster"), std::string::npos) << backend_name_;
  }
  std::printf("[ cuda ] auto paths, empty cache: %s[ cuda ] auto paths, from the cache: %s", lines[0].c_str(),
              lines[1].c_str());
  int fused[2] = {-1, -1}, convs[2] = {-1, -1};
  for (int k = 0; k < 2; ++k) {
    const std::size_t at = lines[k].find("fused ");
    ASSERT_NE(at, std::string::npos) << lines[k];
    ASSERT_EQ(std::sscanf(lines[k].c_str() + at, "fused %d of %d convs", &fused[k], &convs[k]), 2) << lines[k];
  }
  EXPECT_EQ(lines[0].find("differed from the legacy path"), std::string::npos) << lines[0];
  int model_convs = 0;
  for (const ir::Node& n : graph_->nodes) model_convs += n.op == ir::Op::kConv2d;
  EXPECT_EQ(convs[0], model_convs);
  EXPECT_GE(fused[0], 0);
  EXPECT_LE(fused[0], convs[0]);
  EXPECT_EQ(fused[1], fused[0]);
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
}

int max_level_difference(const Image& a, const Image& b) {
  if (a.bytes.size() != b.bytes.size() || a.bits != b.bits) return 1 << 20;
  int m = 0;
  const std::size_t n = a.sample_count();
  for (std::size_t i = 0; i < n; ++i) {
    const int va = a.bits == 16 ? a.sample16(i) : a.bytes[i], vb = b.bits == 16 ? b.sample16(i) : b.bytes[i];
    m = std::max(m, std::abs(va - vb));
  }
  return m;
}

// upscale_image of `img` by `cpu` whole (the reference) and by `gpu` whole and in tiles of 16; `check` sees each of
// the two against the reference, with the tile size (0: whole) and the GPU run's stage times.
void compare_whole_and_tiled(
    const Image& img, engine::CompiledModel& cpu, engine::CompiledModel& gpu,
    const std::function<void(const Image& got, const Image& want, int tile, const engine::StageTimes& times)>& check) {
  engine::UpscaleSettings whole, tiled;
  tiled.tile = 16;
  auto want = engine::upscale_image(img, cpu, whole);
  ASSERT_TRUE(want.ok()) << want.status().message();
  for (const engine::UpscaleSettings* s : {&whole, &tiled}) {
    engine::StageTimes times;
    auto got = engine::upscale_image(img, gpu, *s, &times);
    ASSERT_TRUE(got.ok()) << got.status().message();
    check(*got, *want, s->tile, times);
  }
}

// upscale_image through the CUDA pixel path (8/16-bit pixels converted on the device), whole and in tiles,
// against the CPU backend's tensor path: at most one level apart (fp32 rounding differences at .5 boundaries).
TEST(CudaBackend, PixelPathMatchesCpuUpscaleWholeAndTiled) {
  RESR_SKIP_WITHOUT_GPU();
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto gpu = engine::CompiledModel::compile(*model, "cuda");
  auto cpu = engine::CompiledModel::compile(*model, "cpu");
  ASSERT_TRUE(gpu.ok() && cpu.ok());
  ASSERT_TRUE(gpu->has_pixel_path());
  auto rgb8 = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(rgb8.ok()) << rgb8.status().message();
  Image gray16;  // the same picture as 16-bit gray
  gray16.width = rgb8->width;
  gray16.height = rgb8->height;
  gray16.channels = 1;
  gray16.bits = 16;
  for (std::size_t p = 0; p < std::size_t(rgb8->width) * rgb8->height; ++p) {
    const std::uint16_t v = std::uint16_t(rgb8->bytes[p * 3 + 1] * 257);
    gray16.bytes.push_back(std::uint8_t(v & 0xff));
    gray16.bytes.push_back(std::uint8_t(v >> 8));
  }
  for (const Image* img : {&*rgb8, &gray16})
    compare_whole_and_tiled(*img, *cpu, *gpu,
                            [&](const Image& got, const Image& want, int tile, const engine::StageTimes& times) {
                              EXPECT_LE(max_level_difference(got, want), 1) << img->channels << " ch, tile " << tile;
                              EXPECT_GT(times.inference_ms, 0.0);
                            });
  // Tiles of one input size (plan_tiles takes more context at the edges), so one plan for all six: a new size
  // searches algorithms, compiles fused graphs and captures a CUDA graph again.
  const auto* exe = dynamic_cast<const cuda::CudaExecutable*>(gpu->executables().front());
  ASSERT_NE(exe, nullptr);
  const int plans_before = exe->plans_made();
  engine::UpscaleSettings small_tiles;
  small_tiles.tile = 16;
  small_tiles.tile_pad = 8;
  engine::StageTimes times;
  ASSERT_TRUE(engine::upscale_image(*rgb8, *gpu, small_tiles, &times).ok());
  EXPECT_EQ(times.tiles, 6);
  EXPECT_EQ(exe->plans_made() - plans_before, 1);
}

// PSNR between two images of one size and depth, on samples scaled to [0, 1].
double image_psnr(const Image& a, const Image& b) {
  const double top = a.bits == 16 ? 65535.0 : 255.0;
  double sq = 0;
  const std::size_t n = a.sample_count();
  for (std::size_t i = 0; i < n; ++i) {
    const double va = a.bits == 16 ? a.sample16(i) : a.bytes[i], vb = b.bits == 16 ? b.sample16(i) : b.bytes[i];
    sq += (va - vb) * (va - vb) / (top * top);
  }
  return 10.0 * std::log10(1.0 / std::max(sq / double(n), 1e-30));
}

// What `resr upscale` runs on a GPU by default: the FP32 model in FP16 (BackendOptions::fp32_as_fp16) through the
// pixel path, whole and in tiles; on cuDNN's legacy path and as fused graphs (RESR_CUDA_FUSED=0 and 1), against
// the CPU's FP32. FP16 passes 50 dB against FP32 before rounding to 8 or 16 bits (CudaGolden), so >= 45 dB after.
TEST(CudaBackend, Fp16PixelPathLegacyAndFusedMatchesCpuUpscale) {
  RESR_SKIP_WITHOUT_GPU();
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto cpu = engine::CompiledModel::compile(*model, "cpu");
  ASSERT_TRUE(cpu.ok());
  auto rgb8 = read_image_file(test::data_path("x4fast_37x29.in.png"));
  ASSERT_TRUE(rgb8.ok()) << rgb8.status().message();
  Image rgb16 = *rgb8;  // the same picture in 16 bits
  rgb16.bits = 16;
  rgb16.bytes.clear();
  for (const std::uint8_t v : rgb8->bytes) {
    rgb16.bytes.push_back(v);  // v * 257, little-endian: both bytes v
    rgb16.bytes.push_back(v);
  }
  engine::BackendOptions half;
  half.fp32_as_fp16 = true;
  for (const char* fused : {"0", "1"}) {
    auto gpu = [&] {
      const test::ScopedEnv graphs("RESR_CUDA_FUSED", fused);
      return engine::CompiledModel::compile(*model, "cuda", half);
    }();
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    ASSERT_TRUE(gpu->has_pixel_path());
    for (const Image* img : {&*rgb8, &rgb16})
      compare_whole_and_tiled(*img, *cpu, *gpu, [&](const Image& got, const Image& want, int tile, const auto&) {
        const double psnr = image_psnr(got, want);
        std::printf("[ cuda ] x4fast fp16 pixel path, fused=%s, %d bits, tile %d: %.2f dB against the CPU's fp32\n",
                    fused, img->bits, tile, psnr);
        EXPECT_GE(psnr, 45.0) << "fused=" << fused << ", " << img->bits << " bits, tile " << tile;
      });
  }
}

double psnr_between(const Tensor& a, const Tensor& b) {
  double sq = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double d = double(a.data()[i]) - b.data()[i];
    sq += d * d;
  }
  return 10.0 * std::log10(1.0 / std::max(sq / double(a.numel()), 1e-30));
}

// INT8 (one input scale a conv, and per channel) and FP8 convs on resr's tensor-core kernel (RESR_CUDA_TENSOR_CONV=1
// and =warpgroup: 8-bit products, the fp16 input quantized as it is loaded; the model's activations fp16) against the
// CPU's INT8 and FP8 (fp32 activations): the same quantization, so close; x4fast's chain (each conv handing its output
// to the next as codes) and x4plus's dense blocks (channel slices, residuals; each block's convs reading one shared
// copy of codes, conv1-4 writing theirs, and with RESR_CUDA_TENSOR_BLOCKS=0 not). FP8 needs compute capability 8.9
// (elsewhere its convs keep their cuDNN path and the counts are not checked).
TEST(CudaBackend, QuantizedOnResrTensorCoresMatchCpu) {
  RESR_SKIP_WITHOUT_GPU();
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  struct Mode {
    const char* tensor;
    bool blocks;
  };
  struct Scheme {
    ir::Precision precision;
    bool channel_scales;  // INT8: per-channel input scales (the default), or one a conv
  };
  for (const Scheme scheme :
       {Scheme{ir::Precision::kInt8, false}, Scheme{ir::Precision::kInt8, true}, Scheme{ir::Precision::kFp8, false}})
    for (const char* name : {"realesrgan-x4fast", "realesrgan-x4plus"}) {
      const ir::Precision precision = scheme.precision;
      auto model = engine::load_model({test::model_dir(), name});
      ASSERT_TRUE(model.ok()) << model.status().message();
      const bool plus = std::string(name) == "realesrgan-x4plus";
      const std::string image_path = test::data_path(plus ? "x4plus_23x19.in.png" : "x4fast_37x29.in.png");
      auto image = read_image_file(image_path);
      ASSERT_TRUE(image.ok());
      const Tensor in = image_rgb_to_tensor(*image);
      quant::QuantOptions q;
      q.precision = precision;
      q.channel_scales = scheme.channel_scales;
      auto quantized = test::quantized_on_image(*model, image_path, q, 2, 16);
      ASSERT_TRUE(quantized.ok()) << quantized.status().message();
      for (const Mode mode : {Mode{"1", true}, Mode{"warpgroup", true}, Mode{"1", false}}) {
        auto gpu = [&] {
          const test::ScopedEnv tensor("RESR_CUDA_TENSOR_CONV", mode.tensor);
          const test::ScopedEnv blocks("RESR_CUDA_TENSOR_BLOCKS", mode.blocks ? nullptr : "0");
          return engine::make_executable(*quantized, "cuda");
        }();
        ASSERT_TRUE(gpu.ok()) << gpu.status().message();
        auto cpu = engine::make_executable(*quantized, "cpu");
        ASSERT_TRUE(cpu.ok());
        (*gpu)->set_step_timing(true);
        auto a = (*gpu)->run(in);
        auto b = (*cpu)->run(in);
        ASSERT_TRUE(a.ok()) << a.status().message();
        ASSERT_TRUE(b.ok());
        int tensor = 0, wgmma = 0, codes = 0, block_readers = 0, block_writers = 0;
        for (const StepTime& t : (*gpu)->step_times()) {
          tensor += t.kernel.find("resr tensor cores") != std::string::npos;
          wgmma += t.kernel.find("wgmma") != std::string::npos;
          codes += t.kernel.find("codes to the next") != std::string::npos;
          block_readers += t.kernel.find("reading block codes") != std::string::npos;
          block_writers += t.kernel.find("writing block codes") != std::string::npos;
        }
        const double psnr = psnr_between(*a, *b);
        const char* kind = precision == ir::Precision::kFp8 ? "fp8" : scheme.channel_scales ? "int8c" : "int8";
        std::printf(
            "[ cuda ] %s %s tensor=%s%s, %d convs on resr's tensor cores (%d by wgmma, %d handing codes to the next, "
            "%d reading and %d writing dense blocks' codes): cuda vs cpu %.2f dB\n",
            name, kind, mode.tensor, mode.blocks ? "" : " blocks=0", tensor, wgmma, codes, block_readers, block_writers,
            psnr);
        if (precision == ir::Precision::kInt8 || major * 10 + minor >= 89) {
          EXPECT_GT(tensor, 0) << kind;
          // x4fast's convs but the first (3 input channels) are a chain of such convs: each but the last hands
          // its codes to the next
          if (!plus) {
            EXPECT_EQ(codes, tensor - 1) << kind;
          }
          // x4plus: 69 dense blocks of 5 readers, conv1-4 writing their parts (the quantizer gives each block's
          // convs one input scale)
          EXPECT_EQ(block_readers, plus && mode.blocks ? 69 * 5 : 0) << kind << " tensor=" << mode.tensor;
          EXPECT_EQ(block_writers, plus && mode.blocks ? 69 * 4 : 0) << kind << " tensor=" << mode.tensor;
        }
        if (std::string(mode.tensor) == "warpgroup" && warpgroup_expected()) {
          EXPECT_EQ(wgmma, tensor) << kind;
        }
        EXPECT_GE(psnr, 40.0) << kind << " tensor=" << mode.tensor << (mode.blocks ? "" : " blocks=0");
        expect_replay_equals(**gpu, in, *a, std::string(kind) + " tensor=" + mode.tensor);
      }
    }
}

// Symmetric INT8 (calibrated on the test image) on cuDNN's int8 path against the CPU's INT8 kernels: the same
// quantization, so the outputs agree closely; an asymmetric table is refused in one line.
TEST(CudaBackend, Int8MatchesCpuInt8AndRefusesAsymmetric) {
  RESR_SKIP_WITHOUT_GPU();
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::string image_path = test::data_path("x4fast_37x29.in.png");
  auto image = read_image_file(image_path);
  ASSERT_TRUE(image.ok());
  const Tensor in = image_rgb_to_tensor(*image);
  struct Scheme {
    bool asymmetric, channel_scales;
    const char* name;
  };
  for (const Scheme scheme : {Scheme{false, true, "per-channel inputs"}, Scheme{false, false, "per-tensor inputs"},
                              Scheme{true, false, "asymmetric"}}) {
    const bool asymmetric = scheme.asymmetric;
    quant::QuantOptions q;
    q.asymmetric = asymmetric;
    q.channel_scales = scheme.channel_scales;
    auto quantized = test::quantized_on_image(*model, image_path, q, 4, 32);
    ASSERT_TRUE(quantized.ok()) << quantized.status().message();
    const std::shared_ptr<ir::Graph>& g = *quantized;
    auto gpu = [&] {  // cuDNN's legacy int8 path, whatever the environment says
      const test::ScopedEnv legacy("RESR_CUDA_FUSED", "0");
      return engine::make_executable(g, "cuda");
    }();
    if (asymmetric) {
      ASSERT_FALSE(gpu.ok());
      EXPECT_NE(gpu.status().message().find("symmetric"), std::string::npos) << gpu.status().message();
      continue;
    }
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    // The same with each INT8 conv, its dequantization, epilogue and hand-over as one cuDNN graph.
    auto fused = [&] {
      const test::ScopedEnv fused_graphs("RESR_CUDA_FUSED", "1");
      return engine::make_executable(g, "cuda");
    }();
    ASSERT_TRUE(fused.ok()) << fused.status().message();
    auto cpu = engine::make_executable(g, "cpu");
    ASSERT_TRUE(cpu.ok());
    auto a = (*gpu)->run(in);
    auto b = (*cpu)->run(in);
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(b.ok());
    const double psnr = psnr_between(*a, *b);
    std::printf("[ cuda ] x4fast int8, %s: cuda vs cpu %.2f dB\n", scheme.name, psnr);
    EXPECT_GE(psnr, 45.0);
    (*fused)->set_step_timing(true);
    auto f = (*fused)->run(in);
    ASSERT_TRUE(f.ok()) << f.status().message();
    int graphs = 0;
    for (const StepTime& t : (*fused)->step_times()) graphs += t.kernel.find("one cuDNN graph") != std::string::npos;
    const double fused_psnr = psnr_between(*f, *b);
    std::printf("[ cuda ] x4fast int8, %s, fused (%d convs as one graph): cuda vs cpu %.2f dB\n", scheme.name, graphs,
                fused_psnr);
    EXPECT_GT(graphs, 0);
    EXPECT_GE(fused_psnr, 45.0);
  }
}

// FP8 E4M3 (calibrated on the test image; largest-|x| input scales) as fused cuDNN graphs on Hopper's FP8 tensor
// cores against the CPU's FP8 emulation: the same rounding of inputs and weights, but not the same outputs, since
// sums in another order move some inputs across E4M3 rounding boundaries and the moves spread from layer to
// layer (tests/models/test_quantized.cpp measured it between the CPU and the reference). So: as close to FP32
// as the CPU's FP8 is.
// FP8 models, and INT8+FP8 ones (convs in pairs: INT8, INT8, FP8, FP8, ...: INT8 hand-overs, and both
// transitions, in fp16 activations); x4plus's FP8 dense blocks shared (passes/code_blocks.h) and not.
TEST(CudaBackend, Fp8FusedIsAsCloseToFp32AsCpuFp8) {
  RESR_SKIP_WITHOUT_GPU();
  for (const bool mixed : {false, true})
    for (const char* name : {"realesrgan-x4fast", "realesrgan-x4plus"}) {
      auto model = engine::load_model({test::model_dir(), name});
      ASSERT_TRUE(model.ok()) << model.status().message();
      const std::string image_path = test::data_path("x4fast_37x29.in.png");
      auto image = read_image_file(image_path);
      ASSERT_TRUE(image.ok());
      const Tensor in = image_rgb_to_tensor(*image);
      quant::QuantOptions q;
      q.precision = ir::Precision::kFp8;
      int conv_index = 0;
      for (const ir::Node& n : model->graph->nodes)
        if (n.op == ir::Op::kConv2d && mixed && (conv_index++ / 2) % 2 == 0) q.per_conv[n.name] = ir::Precision::kInt8;
      auto quantized = test::quantized_on_image(*model, image_path, q, 4, 32);
      ASSERT_TRUE(quantized.ok()) << quantized.status().message();
      const std::shared_ptr<ir::Graph>& g = *quantized;
      auto cpu = engine::make_executable(g, "cpu");
      auto fp32 = engine::make_executable(model->graph, "cpu");
      ASSERT_TRUE(cpu.ok() && fp32.ok());
      auto b = (*cpu)->run(in);
      auto r = (*fp32)->run(in);
      ASSERT_TRUE(b.ok() && r.ok());
      // x4plus's dense blocks: with one shared E4M3 copy each (passes/code_blocks.h), and without.
      for (const bool blocks : {true, false}) {
        auto gpu = [&] {
          const test::ScopedEnv fp8_blocks("RESR_CUDA_FP8_BLOCKS", blocks ? nullptr : "0");
          return engine::make_executable(g, "cuda");
        }();
        ASSERT_TRUE(gpu.ok()) << gpu.status().message();
        (*gpu)->set_step_timing(true);
        auto a = (*gpu)->run(in);
        ASSERT_TRUE(a.ok()) << a.status().message();
        int graphs = 0;
        for (const StepTime& t : (*gpu)->step_times()) graphs += t.kernel.find("one cuDNN graph") != std::string::npos;
        const double vs_cpu = psnr_between(*a, *b), vs_fp32 = psnr_between(*a, *r), cpu_vs_fp32 = psnr_between(*b, *r);
        std::printf(
            "[ cuda ] %s %s fused%s (%d convs as one graph): vs fp32 %.2f dB (cpu: %.2f dB); cuda vs cpu %.2f dB\n",
            name, mixed ? "int8+fp8" : "fp8", blocks ? "" : ", dense blocks not shared", graphs, vs_fp32, cpu_vs_fp32,
            vs_cpu);
        EXPECT_GT(graphs, 0);
        EXPECT_GE(vs_fp32, cpu_vs_fp32 - 1.0);
      }
    }
}

}  // namespace
}  // namespace resr
