// The fused conv graphs (backends/cuda/fused_conv.h) of the real models, compiled by cuDNN without a GPU: every
// fusable conv step of x4plus and x4fast, laid out as the CUDA executor lays them out (fp16, NHWC), must give an
// operation graph that cuDNN accepts and compiles a plan for on an H200 (tests/data/h200_device_properties.json:
// the device description cuDNN reads, filled in from the H200's published properties). cuDNN checks the graph's
// structure and attribute types here, not every operand's shape; the chain's arithmetic is checked on the host
// (test_cuda_plan's CudaEpilogueChain) and the numbers of a run on the GPU (test_cuda's fused golden cases).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "backends/cuda/backend_descriptor.h"
#include "backends/cuda/device_layout.h"
#include "backends/cuda/fused_conv.h"
#include "engine/model_loader.h"
#include "passes/fused_steps.h"
#include "support/paths.h"

namespace resr::cuda {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct BuildCase {
  const char* model;
  Layout layout;
};

class FusedConvBuild : public ::testing::TestWithParam<BuildCase> {};

TEST_P(FusedConvBuild, EveryFusableConvOfTheModelCompilesForAnH200) {
  const BuildCase c = GetParam();
  auto device = device_properties_from_json(read_text(test::data_path("h200_device_properties.json")));
  ASSERT_TRUE(device.ok()) << device.status().message();
  auto model = engine::load_model({test::model_dir(), c.model});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const ir::Graph& g = *model->graph;
  const std::vector<passes::Step> steps = passes::lower_graph(g);
  auto memory = plan_device_memory(g, steps, 24, 32, 2, c.layout);
  ASSERT_TRUE(memory.ok()) << memory.status().message();

  std::map<std::string, std::size_t> built;  // spec key -> plans
  int fused_steps = 0;
  for (const passes::Step& s : steps) {
    if (s.kind != passes::StepKind::kConv) continue;
    const FusedConvSpec spec = fused_conv_spec(s, *memory, c.layout);
    if (!fusable(spec)) continue;
    ++fused_steps;
    const std::string key = spec.key();
    if (built.count(key) != 0) continue;
    const auto start = std::chrono::steady_clock::now();
    auto f = FusedConv::build(spec, FusedConvTarget{nullptr, &*device}, 2);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(f.ok()) << s.node->name << ": " << f.status().message();
    // Without a GPU (the stub driver), compiling succeeds and only loading the module fails.
    const auto& outcomes = (*f)->outcomes();
    EXPECT_TRUE(std::any_of(outcomes.begin(), outcomes.end(),
                            [](const FusedConv::PlanOutcome& o) {
                              return o.status == CUDNN_STATUS_SUCCESS ||
                                     o.status == CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER;
                            }))
        << s.node->name << ": " << (*f)->describe();
    std::printf("%-24s %s  %s  %.0f ms\n", s.node->name.c_str(), key.c_str(), (*f)->describe().c_str(), ms);
    built[key] = outcomes.size();
  }
  EXPECT_GT(fused_steps, 0);
  std::printf("%s: %d fused conv steps, %zu distinct graphs\n", c.model, fused_steps, built.size());
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
