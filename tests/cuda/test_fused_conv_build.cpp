// The fused conv graphs (backends/cuda/fused_conv.h) of the real models, compiled by cuDNN without a GPU: every
// fusable conv step of x4plus and x4fast, laid out as the CUDA executor lays them out (fp16, NHWC), must give an
// operation graph that cuDNN accepts and compiles a plan for on an H200 (tests/data/h200_device_properties.json:
// the device description cuDNN reads, filled in from the H200's published properties). cuDNN checks the graph's
// structure and attribute types here, not every operand's shape; the chain's arithmetic is checked on the host
// (test_cuda_plan's CudaEpilogueChain) and the numbers of a run on the GPU (test_cuda's fused golden cases).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/cuda/backend_descriptor.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/fused_conv.h"
#include "backends/cuda/plan_cache.h"
#include "engine/model_loader.h"
#include "passes/code_blocks.h"
#include "passes/fused_steps.h"
#include "support/paths.h"
#include "support/slurp.h"
#include "support/temp_dir.h"

namespace resr::cuda {
namespace {

// Whether cuDNN compiled and finalized a plan for the graph (loading it through fake_cuda_driver.cpp).
bool compiled(const FusedConv& f) {
  return f.plan_count() > 0 &&
         std::any_of(f.outcomes().begin(), f.outcomes().end(),
                     [](const FusedConv::PlanOutcome& o) { return o.status == CUDNN_STATUS_SUCCESS; });
}

// A plan cache in a directory of its own, removed at the end.
class TempCache {
 public:
  explicit TempCache(const std::string& name) : dir_("resr_fused_cache_" + name + "_"), cache_(dir_.path()) {}
  const PlanCache& cache() const { return cache_; }
  CacheView view() const { return CacheView{&cache_, "h200|"}; }

 private:
  test::ScopedTempDir dir_;
  PlanCache cache_;
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The H200's device description (what cuDNN compiles for when there is no GPU).
Result<BackendDescriptor> h200() {
  return device_properties_from_json(test::slurp(test::data_path("h200_device_properties.json")));
}

// A real model lowered and laid out as the CUDA executor does it for a 24x32 input.
struct LaidOut {
  engine::LoadedModel model;
  std::vector<passes::Step> steps;
  DeviceLayout memory;
};
Result<LaidOut> laid_out(const char* name, std::size_t element_bytes, Layout layout) {
  LaidOut l;
  RESR_ASSIGN_OR_RETURN(l.model, engine::load_model({test::model_dir(), name}));
  l.steps = passes::lower_graph(*l.model.graph);
  RESR_ASSIGN_OR_RETURN(l.memory, plan_device_memory(*l.model.graph, l.steps, 24, 32, element_bytes, layout));
  return l;
}

// The distinct graphs among a model's conv steps (by spec key), each named after the first step that needs it.
class DistinctSpecs {
 public:
  // Keeps `spec` under `name` if no kept spec has its key; returns whether it did.
  bool add(const FusedConvSpec& spec, const std::string& name) {
    if (!keys_.insert(spec.key()).second) return false;
    specs_.push_back(spec);
    names_.push_back(name);
    return true;
  }
  const std::vector<FusedConvSpec>& specs() const { return specs_; }
  const std::string& name(std::size_t i) const { return names_[i]; }
  std::size_t size() const { return specs_.size(); }

 private:
  std::set<std::string> keys_;
  std::vector<FusedConvSpec> specs_;
  std::vector<std::string> names_;
};

int all_threads() {
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

// Every distinct graph built at once on every core, as the executor builds them; each must compile a plan (a
// failure names its first step). Prints a line per graph after `label`.
std::vector<FusedBuild> build_all(const DistinctSpecs& d, const FusedConvTarget& target, int tries, const char* label) {
  std::vector<FusedBuild> built = build_fused_convs(d.specs(), target, tries, all_threads());
  EXPECT_EQ(built.size(), d.size());
  for (std::size_t i = 0; i < built.size() && i < d.size(); ++i) {
    if (built[i].conv == nullptr) {
      ADD_FAILURE() << d.name(i) << ": " << built[i].status.message();
      continue;
    }
    EXPECT_TRUE(compiled(*built[i].conv)) << d.name(i) << ": " << built[i].conv->describe();
    std::printf("%s %-24s %s\n", label, d.name(i).c_str(), built[i].conv->describe().c_str());
  }
  return built;
}

// A 64 -> 64 channels-last conv on 8x8 with bias, LeakyReLU 0.2 and an output scale of 0.2 (a dense block's end).
FusedConvSpec leaky_spec() {
  FusedConvSpec a;
  a.x = a.y = TensorPlace{64, 8, 8, Strides{1, 64}, 16};
  a.epilogue.has_bias = true;
  a.epilogue.act = passes::Act::kLeaky;
  a.epilogue.leaky_slope = 0.2f;
  a.epilogue.out_scale = 0.2f;
  return a;
}

struct BuildCase {
  const char* model;
  Layout layout;
};

class FusedConvBuild : public ::testing::TestWithParam<BuildCase> {};

TEST_P(FusedConvBuild, EveryFusableConvOfTheModelCompilesForAnH200) {
  const BuildCase c = GetParam();
  auto device = h200();
  ASSERT_TRUE(device.ok()) << device.status().message();
  auto model = laid_out(c.model, 2, c.layout);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<passes::Step>& steps = model->steps;
  const DeviceLayout* memory = &model->memory;

  DistinctSpecs distinct;
  int fused_steps = 0;
  for (const passes::Step& s : steps) {
    if (s.kind != passes::StepKind::kConv) continue;
    const FusedConvSpec spec = fused_conv_spec(s, *memory, c.layout);
    if (!fusable(spec)) continue;
    ++fused_steps;
    distinct.add(spec, s.node->name);
  }
  // Each chosen plan then goes to a plan cache.
  const TempCache cache(std::string(c.model));
  const FusedConvTarget target{nullptr, &*device, cache.view()};
  const auto start = std::chrono::steady_clock::now();
  const std::vector<FusedBuild> built = build_all(distinct, target, 2, "fp16");
  const double ms = ms_since(start);
  ASSERT_EQ(built.size(), distinct.size());
  for (std::size_t i = 0; i < built.size(); ++i) {
    ASSERT_NE(built[i].conv, nullptr);
    EXPECT_FALSE(built[i].conv->from_cache()) << distinct.name(i);
    built[i].conv->remember(cache.view());
  }
  EXPECT_GT(fused_steps, 0);
  std::printf("%s: %d fused conv steps, %zu distinct graphs, compiled in %.0f ms on %d threads\n", c.model, fused_steps,
              distinct.size(), ms, all_threads());

  // A later process: every graph's chosen plan loads from the cache instead of compiling.
  const auto again = std::chrono::steady_clock::now();
  const std::vector<FusedBuild> loaded = build_fused_convs(distinct.specs(), target, 2, all_threads());
  const double load_ms = ms_since(again);
  ASSERT_EQ(loaded.size(), distinct.size());
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    const std::string& name = distinct.name(i);
    ASSERT_NE(loaded[i].conv, nullptr) << name << ": " << loaded[i].status.message();
    EXPECT_TRUE(loaded[i].conv->from_cache()) << name;
    EXPECT_EQ(loaded[i].conv->plan_count(), 1u) << name;
    EXPECT_EQ(loaded[i].conv->workspace_bytes(), built[i].conv->workspace_bytes()) << name;
    EXPECT_EQ(loaded[i].conv->signature(), built[i].conv->signature()) << name;
  }
  std::printf("%s: the same %zu graphs loaded from the plan cache in %.0f ms (%.0fx faster than compiling)\n", c.model,
              distinct.size(), load_ms, ms / std::max(load_ms, 0.001));
  EXPECT_LT(load_ms * 3, ms) << "loading a cached plan should cost far less than compiling it";
}

// A cache entry is used only by a graph of the same signature, and a damaged one is compiled again (and
// replaced): constant values are data (one entry serves both), structure is not.
TEST(FusedConvCache, SharedByConstantsNotByStructureAndDamagedEntriesRecompile) {
  auto device = h200();
  ASSERT_TRUE(device.ok()) << device.status().message();
  FusedConvSpec a = leaky_spec();
  FusedConvSpec b = a;
  b.epilogue.out_scale = 0.3f;  // a constant: the same graph
  FusedConvSpec c = a;
  c.epilogue.leaky_slope = 0.1f;  // compiled in: another graph
  const TempCache cache("shared");
  const FusedConvTarget target{nullptr, &*device, cache.view()};
  auto build = [&](const FusedConvSpec& spec) {
    Result<std::unique_ptr<FusedConv>> f = FusedConv::build(spec, target, 1);
    EXPECT_TRUE(f.ok()) << f.status().message();
    return f.ok() ? std::move(*f) : nullptr;
  };
  const std::unique_ptr<FusedConv> first = build(a);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(compiled(*first)) << first->describe();
  EXPECT_FALSE(first->from_cache());
  first->remember(cache.view());
  const std::unique_ptr<FusedConv> same = build(b);
  ASSERT_NE(same, nullptr);
  EXPECT_TRUE(same->from_cache());
  EXPECT_EQ(same->signature(), first->signature());
  const std::unique_ptr<FusedConv> other = build(c);
  ASSERT_NE(other, nullptr);
  EXPECT_FALSE(other->from_cache());
  EXPECT_NE(other->signature(), first->signature());

  for (const std::string damaged : {"7\n{\"not\": \"a plan\"}", "no engine line", "7\n"}) {
    cache.view().put("fused|" + first->signature(), damaged);
    const std::unique_ptr<FusedConv> rebuilt = build(a);
    ASSERT_NE(rebuilt, nullptr);
    EXPECT_FALSE(rebuilt->from_cache());
    EXPECT_TRUE(compiled(*rebuilt)) << rebuilt->describe();
    rebuilt->remember(cache.view());  // the good plan replaces the damaged entry
    const std::unique_ptr<FusedConv> reloaded = build(a);
    ASSERT_NE(reloaded, nullptr);
    EXPECT_TRUE(reloaded->from_cache());
  }
}

// INT8 convs as the executor fuses them: in an INT8 model (fp32 activations) and among FP8 convs (`resr convert
// --precision int8+fp8`: fp16 activations). Int8 input, sums dequantized first; x4fast's chain with the hand-over
// (the output quantized into the next conv's int8 input) and without, and x4plus's two-residual RRDB end.
TEST(FusedConvBuildInt8, X4fastChainAndX4plusRrdbEndCompileForAnH200) {
  auto device = h200();
  ASSERT_TRUE(device.ok()) << device.status().message();
  for (const FusedType activations : {FusedType::kFloat, FusedType::kHalf})
    for (const char* name : {"realesrgan-x4fast", "realesrgan-x4plus"}) {
      auto model = laid_out(name, activations == FusedType::kFloat ? 4 : 2, Layout::kNhwc);
      ASSERT_TRUE(model.ok()) << model.status().message();
      const std::vector<passes::Step>& steps = model->steps;
      const DeviceLayout* memory = &model->memory;
      const bool x4fast = std::string(name) == "realesrgan-x4fast";
      DistinctSpecs distinct;
      for (const passes::Step& s : steps) {
        if (s.kind != passes::StepKind::kConv) continue;
        for (const float handover : {0.0f, 0.05f}) {
          if (!x4fast && handover > 0.0f) continue;
          FusedConvSpec spec = fused_conv_spec(s, *memory, Layout::kNhwc, activations);
          if (!x4fast && spec.epilogue.residual_count != 2) continue;
          make_int8(spec, handover);
          if (fusable(spec)) distinct.add(spec, s.node->name + (handover > 0 ? " hand-over" : ""));
        }
      }
      build_all(distinct, FusedConvTarget{nullptr, &*device, {}}, 1,
                activations == FusedType::kFloat ? "int8 fp32" : "int8 fp16");
      EXPECT_GE(distinct.size(), x4fast ? 3u : 1u) << name;
    }
}

// FP8 convs as the executor fuses them in an FP8 model (fp16 activations): E4M3 input and weights, fp32 sums
// dequantized first; every distinct graph of both models, and x4fast's chain handing over (E4M3 output).
TEST(FusedConvBuildFp8, EveryFusableConvOfBothModelsCompilesForAnH200) {
  auto device = h200();
  ASSERT_TRUE(device.ok()) << device.status().message();
  for (const char* name : {"realesrgan-x4fast", "realesrgan-x4plus"}) {
    auto model = laid_out(name, 2, Layout::kNhwc);
    ASSERT_TRUE(model.ok()) << model.status().message();
    const std::vector<passes::Step>& steps = model->steps;
    const DeviceLayout* memory = &model->memory;
    DistinctSpecs distinct;
    const bool x4fast = std::string(name) == "realesrgan-x4fast";
    for (const passes::Step& s : steps) {
      if (s.kind != passes::StepKind::kConv) continue;
      for (const float handover : {0.0f, 0.05f}) {
        if (!x4fast && handover > 0.0f) continue;
        FusedConvSpec spec = fused_conv_spec(s, *memory, Layout::kNhwc);
        make_fp8(spec, handover);
        if (fusable(spec)) distinct.add(spec, s.node->name + (handover > 0 ? " hand-over" : ""));
      }
    }
    build_all(distinct, FusedConvTarget{nullptr, &*device, {}}, 1, "fp8");
    EXPECT_GE(distinct.size(), 2u) << name;
  }
}

// FP8 dense blocks (passes/code_blocks.h) of x4plus: readers take their input as a channel prefix of the block's E4M3
// buffer (pixel stride 192), and conv1-4 write their outputs in E4M3 into it.
TEST(FusedConvBuildFp8, X4plusDenseBlockReadersAndWritersCompileForAnH200) {
  auto device = h200();
  ASSERT_TRUE(device.ok()) << device.status().message();
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ir::Graph g = *model->graph;
  for (ir::Node& n : g.nodes) {
    if (n.op != ir::Op::kConv2d) continue;
    n.quant.precision = ir::Precision::kFp8;
    n.quant.in_scale = 0.01f;
    n.quant.weight_scales.assign(std::size_t(n.conv.out_channels), 0.01f);
  }
  const std::vector<passes::Step> steps = passes::lower_graph(g);
  auto memory = plan_device_memory(g, steps, 24, 32, 2, Layout::kNhwc);
  ASSERT_TRUE(memory.ok()) << memory.status().message();
  std::vector<bool> fp8(steps.size());
  for (std::size_t s = 0; s < steps.size(); ++s) fp8[s] = steps[s].kind == passes::StepKind::kConv;
  const passes::CodeBlockPlan blocks = passes::plan_code_blocks(g, steps, fp8, 16);
  ASSERT_FALSE(blocks.blocks.empty());
  DistinctSpecs distinct;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const int read = blocks.reader_of[s], written = blocks.writer_of[s].first;
    if (read < 0 && written < 0) continue;
    FusedConvSpec spec = fused_conv_spec(steps[s], *memory, Layout::kNhwc);
    make_fp8(spec, 0.0f);
    if (read >= 0) read_fp8_block(spec, blocks.blocks[std::size_t(read)].channels);
    if (written >= 0) write_fp8_block(spec, blocks.blocks[std::size_t(written)].channels, 0.01f);
    ASSERT_TRUE(fusable(spec)) << steps[s].node->name;
    distinct.add(spec, steps[s].node->name);
  }
  build_all(distinct, FusedConvTarget{nullptr, &*device, {}}, 1, "fp8 block");
  // conv1-4 (read a prefix, write a part) and conv5 (reads all, writes fp16; its residual sums differ in places)
  EXPECT_GE(distinct.size(), 5u);
}

// Steps that differ only in constant values (scales, the hand-over scale) share a compiled graph; a different
// structure (a scale of 1 needs no op, a ReLU slope is compiled in) does not.
TEST(FusedConvKey, ConstantValuesAreDataNotStructure) {
  FusedConvSpec a = leaky_spec();
  a.epilogue.residual_count = 1;
  a.epilogue.residual_scales[0] = 0.5f;
  a.residuals[0] = a.x;
  FusedConvSpec b = a;
  b.epilogue.out_scale = 0.3f;
  b.epilogue.residual_scales[0] = 0.7f;
  EXPECT_EQ(a.key(), b.key());
  EXPECT_NE(fused_constants(a), fused_constants(b));
  EXPECT_EQ(fused_constants(a).size(), 2u * 64u);  // out_scale / s1 and s1, per channel
  FusedConvSpec c = a;
  c.epilogue.residual_scales[0] = 1.0f;  // then the last multiplication is gone
  EXPECT_NE(a.key(), c.key());
  FusedConvSpec d = a;
  d.epilogue.leaky_slope = 0.1f;
  EXPECT_NE(a.key(), d.key());
  FusedConvSpec e = a;
  e.residuals[0].s.ps = 192;  // another place
  EXPECT_NE(a.key(), e.key());
  FusedConvSpec q1 = a, q2 = a;
  make_int8(q1, 0.05f);
  make_int8(q2, 0.07f);
  EXPECT_EQ(q1.key(), q2.key());
  EXPECT_NE(q1.key(), a.key());
}

// Dynamic-shape graphs with shared kernels (ShapeKernels): x4plus's graphs at a second and third input size bind
// the kernels compiled for the first instead of compiling their own.
TEST(FusedConvShapeKernels, LaterSizesOfX4plusReuseTheFirstSizesKernels) {
  auto device = h200();
  ASSERT_TRUE(device.ok()) << device.status().message();
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<passes::Step> steps = passes::lower_graph(*model->graph);
  ShapeKernels kernels;
  double first_ms = 0;
  for (const auto& [h, w] : {std::pair{24, 32}, std::pair{40, 56}, std::pair{17, 64}}) {
    auto memory = plan_device_memory(*model->graph, steps, h, w, 2, Layout::kNhwc);
    ASSERT_TRUE(memory.ok()) << memory.status().message();
    DistinctSpecs distinct;
    for (const passes::Step& s : steps) {
      if (s.kind != passes::StepKind::kConv) continue;
      const FusedConvSpec spec = fused_conv_spec(s, *memory, Layout::kNhwc);
      if (fusable(spec)) distinct.add(spec, s.node->name);
    }
    const auto start = std::chrono::steady_clock::now();
    build_all(distinct, FusedConvTarget{nullptr, &*device, {}, &kernels}, 1, "dynamic");
    const double ms = ms_since(start);
    std::printf("x4plus at %dx%d, dynamic shapes: %zu graphs in %.0f ms\n", w, h, distinct.size(), ms);
    if (first_ms == 0) {
      first_ms = ms;
    } else {
      EXPECT_LT(ms * 5, first_ms) << "a later size should bind the kernels compiled for the first";
    }
  }
  // The same spec with and without dynamic shapes is two graphs (and two cache entries).
  auto memory = plan_device_memory(*model->graph, steps, 24, 32, 2, Layout::kNhwc);
  ASSERT_TRUE(memory.ok());
  const auto conv = std::find_if(steps.begin(), steps.end(), [&](const passes::Step& s) {
    return s.kind == passes::StepKind::kConv && fusable(fused_conv_spec(s, *memory, Layout::kNhwc));
  });
  ASSERT_NE(conv, steps.end());
  const FusedConvSpec spec = fused_conv_spec(*conv, *memory, Layout::kNhwc);
  auto dynamic = FusedConv::build(spec, FusedConvTarget{nullptr, &*device, {}, &kernels}, 1);
  auto fixed = FusedConv::build(spec, FusedConvTarget{nullptr, &*device, {}, nullptr}, 1);
  ASSERT_TRUE(dynamic.ok() && fixed.ok());
  EXPECT_NE((*dynamic)->signature(), (*fixed)->signature());
  // A dynamic-shape plan goes through the plan cache too.
  const TempCache cache("dynamic");
  (*dynamic)->remember(cache.view());
  auto loaded = FusedConv::build(spec, FusedConvTarget{nullptr, &*device, cache.view(), &kernels}, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_TRUE((*loaded)->from_cache());
}

TEST(FusedConvKey, TopologyLeavesOutTheSize) {
  FusedConvSpec a;
  a.x = a.y = TensorPlace{64, 8, 8, Strides{1, 64}, 16};
  a.epilogue.has_bias = true;
  FusedConvSpec b = a;
  b.x.h = b.y.h = 20;
  b.x.w = b.y.w = 30;
  EXPECT_NE(a.key(), b.key());
  EXPECT_EQ(a.topology(), b.topology());
  FusedConvSpec c = a;
  c.x.s.ps = 192;  // a concat member: another topology
  EXPECT_NE(a.topology(), c.topology());
}

INSTANTIATE_TEST_SUITE_P(Models, FusedConvBuild,
                         ::testing::Values(BuildCase{"realesrgan-x4fast", Layout::kNhwc},
                                           BuildCase{"realesrgan-x4plus", Layout::kNhwc}),
                         [](const auto& info) {
                           return std::string(info.param.model == std::string("realesrgan-x4fast") ? "x4fast"
                                                                                                   : "x4plus") +
                                  (info.param.layout == Layout::kNhwc ? "_nhwc" : "_nchw");
                         });

}  // namespace
}  // namespace resr::cuda
