// The shared lowering (passes/fused_steps.h) and memory plan (passes/memory_plan.h) as the CUDA backend lays
// them out (device_layout.h), and its element arithmetic (element_math.h), checked on the host: HostRun executes
// the steps over one fp32 arena laid out exactly as the plan says (poisoned with NaN first, so a read of memory
// nobody wrote, or of a value overwritten too early, shows), with ref::conv2d in place of cuDNN and
// element_math for everything the CUDA kernels do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "backends/cuda/device_layout.h"
#include "backends/cuda/element_math.h"
#include "backends/cuda/epilogue_chain.h"
#include "backends/ref/executor.h"
#include "backends/ref/kernels.h"
#include "core/fp8.h"
#include "engine/model_loader.h"
#include "engine/tile_io.h"
#include "image/codec.h"
#include "image/convert.h"
#include "ops/graph_builder.h"
#include "passes/fused_steps.h"
#include "support/compare.h"
#include "support/golden_case.h"
#include "support/npy.h"
#include "support/paths.h"
#include "unit/image/test_images.h"

namespace resr::cuda {
namespace {

using passes::ConvEpilogue;
using passes::lower_graph;
using passes::Step;
using passes::StepKind;

class HostRun {
 public:
  HostRun(const ir::Graph& g, std::vector<Step> steps, DeviceLayout plan)
      : g_(g),
        steps_(std::move(steps)),
        plan_(std::move(plan)),
        arena_(plan_.arena_bytes / sizeof(float), std::numeric_limits<float>::quiet_NaN()) {}

  Tensor run(const Tensor& input) {
    for (std::size_t s = 0; s < steps_.size(); ++s) execute(s, input);
    return load(g_.output);
  }

 private:
  // A value as the kernels see it (kernels.h Planes, on the host).
  struct View {
    float* data;
    int c, h, w;
    Strides s;
    float& operator[](Coord e) const { return data[element_at(e, w, s)]; }
  };
  View view(int value) {
    const Shape sh = plan_.shapes[value];
    return View{arena_.data() + plan_.offset[value] / sizeof(float), sh.c, sh.h, sh.w, plan_.strides[value]};
  }
  // f(e) for every element of `out` in its memory order, as the kernels' for_each_element.
  template <class F>
  static void for_each_element(const View& out, F&& f) {
    for (std::size_t n = 0; n < std::size_t(out.c) * out.h * out.w; ++n)
      f(coord_in_memory_order(n, out.c, out.h, out.w, out.s));
  }
  Tensor load(int value) {
    const View v = view(value);
    Tensor t(v.c, v.h, v.w);
    for_each_element(v, [&](Coord e) { t.at(e.c, e.y, e.x) = v[e]; });
    return t;
  }

  void execute(std::size_t index, const Tensor& input) {
    const Step& s = steps_[index];
    const ir::Node& n = *s.node;
    const View out = view(s.output);
    switch (s.kind) {
      case StepKind::kInput:
        for_each_element(out, [&](Coord e) { out[e] = input.at(e.c, e.y, e.x); });
        return;
      case StepKind::kConv: {
        ir::ConvParams p = n.conv;
        p.activation = ir::Activation::kNone;  // the epilogue applies it, as after cuDNN
        const Tensor raw = ref::conv2d(load(s.inputs[0]), p, n.weights, {});
        const ConvEpilogue& ep = s.epilogue;
        for_each_element(out, [&](Coord e) {
          float res[kMaxResiduals];
          for (int k = 0; k < ep.residual_count; ++k) res[k] = view(ep.residuals[k])[e];
          float slope = ep.leaky_slope;
          if (ep.act == Act::kPrelu) slope = ep.prelu->slopes.size() == 1 ? ep.prelu->slopes[0] : ep.prelu->slopes[e.c];
          out[e] = epilogue_value(raw.at(e.c, e.y, e.x), n.bias.empty() ? 0.0f : n.bias[e.c], ep.act, slope,
                                  ep.out_scale, res, ep.residual_scales, ep.residual_count);
        });
        return;
      }
      case StepKind::kPRelu: {
        const View in = view(s.inputs[0]);
        for_each_element(out, [&](Coord e) {
          const float slope = n.slopes.size() == 1 ? n.slopes[0] : n.slopes[e.c];
          out[e] = epilogue_value(in[e], 0.0f, Act::kPrelu, slope, 1.0f, nullptr, nullptr, 0);
        });
        return;
      }
      case StepKind::kConcat: {
        const auto& copies = plan_.concat_copies[index];
        int channel = 0;
        for (int v : s.inputs) {
          const View member = view(v);
          View slot = member;
          slot.data = out.data + std::size_t(channel) * out.s.cs;
          slot.s = out.s;
          if (std::find(copies.begin(), copies.end(), v) != copies.end())
            for_each_element(slot, [&](Coord e) { slot[e] = member[e]; });
          channel += member.c;
        }
        return;
      }
      case StepKind::kWeightedSum: {
        Tensor sum(out.c, out.h, out.w);  // out may be one of the inputs
        for (std::size_t k = 0; k < s.inputs.size(); ++k) {
          const View in = view(s.inputs[k]);
          for_each_element(out, [&](Coord e) { sum.at(e.c, e.y, e.x) += n.coeffs[k] * in[e]; });
        }
        for_each_element(out, [&](Coord e) { out[e] = sum.at(e.c, e.y, e.x); });
        return;
      }
      case StepKind::kUpsample:
      case StepKind::kShuffle:
      case StepKind::kUnshuffle: {
        const View in = view(s.inputs[0]);
        for_each_element(out, [&](Coord e) {
          out[e] = in[s.kind == StepKind::kUpsample  ? upsample_source(e, s.factor)
                      : s.kind == StepKind::kShuffle ? shuffle_source(e, s.factor)
                                                     : unshuffle_source(e, s.factor)];
        });
        return;
      }
      case StepKind::kShuffleAddUp: {
        const View x = view(s.inputs[0]), base = view(s.inputs[1]);
        for_each_element(out, [&](Coord e) {
          out[e] = s.shuffle_scale * x[shuffle_source(e, s.factor)] + s.up_scale * base[upsample_source(e, s.factor)];
        });
        return;
      }
    }
  }

  const ir::Graph& g_;
  std::vector<Step> steps_;
  DeviceLayout plan_;
  std::vector<float> arena_;
};

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() ? test::max_abs_error(a.data(), b.data(), std::size_t(a.numel())) : 1e30;
}

std::size_t count_kind(const std::vector<Step>& steps, StepKind k) {
  return std::size_t(std::count_if(steps.begin(), steps.end(), [&](const Step& s) { return s.kind == k; }));
}

struct RealCase {
  const char* model;
  const char* stem;
  Layout layout;
};

class CudaPlanReal : public ::testing::TestWithParam<RealCase> {};

// The real models through the host run: golden within 1e-4 (the reference backend reaches ~4e-6).
TEST_P(CudaPlanReal, HostRunMatchesGolden) {
  const RealCase& c = GetParam();
  auto data = test::load_golden_case(c.model, c.stem);
  ASSERT_TRUE(data.ok()) << data.status().message();
  const ir::Graph& g = *data->model.graph;
  const Tensor& in = data->input;
  const test::NpyArray* golden = &data->golden;
  std::vector<Step> steps = lower_graph(g);
  auto plan = plan_device_memory(g, steps, in.h(), in.w(), sizeof(float), c.layout);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  for (const auto& copies : plan->concat_copies) EXPECT_TRUE(copies.empty()) << "a concat member is copied";
  const Tensor out = HostRun(g, steps, *plan).run(in);
  ASSERT_EQ(out.numel(), std::int64_t(golden->data.size()));
  EXPECT_LE(test::max_abs_error(out.data(), golden->data.data(), std::size_t(out.numel())), 1e-4) << c.model;
}

INSTANTIATE_TEST_SUITE_P(Models, CudaPlanReal,
                         ::testing::Values(RealCase{"realesrgan-x4fast", "x4fast_37x29", Layout::kNchw},
                                           RealCase{"realesrgan-x4fast", "x4fast_37x29", Layout::kNhwc},
                                           RealCase{"realesrgan-x4plus", "x4plus_23x19", Layout::kNchw},
                                           RealCase{"realesrgan-x4plus", "x4plus_23x19", Layout::kNhwc}),
                         [](const auto& info) {
                           return std::string(info.param.stem) +
                                  (info.param.layout == Layout::kNhwc ? "_nhwc" : "_nchw");
                         });

TEST(CudaPlanFusion, X4plusHasNoSumsAndNoCopies) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<Step> steps = lower_graph(*model->graph);
  // Every residual sum (RDB, RRDB, trunk) is in a conv epilogue; the RRDB ends carry two residuals.
  EXPECT_EQ(count_kind(steps, StepKind::kWeightedSum), 0u);
  int two_residuals = 0;
  for (const Step& s : steps) two_residuals += s.epilogue.residual_count == 2 ? 1 : 0;
  EXPECT_EQ(two_residuals, 23);  // one per RRDB
  auto plan = plan_device_memory(*model->graph, steps, 16, 16, 2);
  ASSERT_TRUE(plan.ok());
  for (const auto& copies : plan->concat_copies) EXPECT_TRUE(copies.empty());
}

// cuDNN's descriptors hold 2^31 - 1 elements: x4plus's widest values are its 64 channels at 4x the input, 1024
// elements an input pixel in either layout, so a run takes at most 2097151 input pixels: 1920x1080 fits, 2040x1356
// (a 2.8 MP photo) does not and must be tiled.
TEST(CudaPlanMemory, LargestRunKeepsEveryTensorWithinCudnnsIntSizes) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<Step> steps = lower_graph(*model->graph);
  for (const Layout layout : {Layout::kNchw, Layout::kNhwc}) {
    auto small = plan_device_memory(*model->graph, steps, 20, 30, 2, layout);
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(largest_value_span(*small), 1024u * 20 * 30);
    const std::uint64_t most = max_input_pixels(*model->graph, steps, 2, layout);
    EXPECT_EQ(most, kMaxTensorSpan / 1024);
    EXPECT_GE(most, 1920u * 1080);
    EXPECT_LT(most, 2040u * 1356);
  }
}

TEST(CudaPlanFusion, X4fastTailIsOneStepAndPReLUsAreFused) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<Step> steps = lower_graph(*model->graph);
  EXPECT_EQ(count_kind(steps, StepKind::kPRelu), 0u);
  EXPECT_EQ(count_kind(steps, StepKind::kShuffle), 0u);
  EXPECT_EQ(count_kind(steps, StepKind::kUpsample), 0u);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.back().kind, StepKind::kShuffleAddUp);
}

// Small graphs run through the host run and the reference backend.
Tensor reference(const ir::Graph& g, const Tensor& in) {
  auto exe = ref::compile(std::make_shared<const ir::Graph>(g));
  auto out = exe->run(in);
  return out.ok() ? *out : Tensor();
}

Tensor host(const ir::Graph& g, const Tensor& in, Layout layout, std::vector<Step>* steps_out = nullptr) {
  std::vector<Step> steps = lower_graph(g);
  auto plan = plan_device_memory(g, steps, in.h(), in.w(), sizeof(float), layout);
  if (!plan.ok()) return Tensor();
  if (steps_out != nullptr) *steps_out = steps;
  return HostRun(g, steps, *plan).run(in);
}

// The host run of `g` within 1e-5 of the reference backend, in both layouts; its steps.
std::vector<Step> expect_host_run_matches_reference(const ir::Graph& g, const Tensor& in) {
  std::vector<Step> steps;
  const Tensor want = reference(g, in);
  for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
    SCOPED_TRACE(layout == Layout::kNhwc ? "NHWC" : "NCHW");
    EXPECT_LE(max_abs_diff(host(g, in, layout, &steps), want), 1e-5);
  }
  return steps;
}

using test::pattern_input;

// A sum of two convs where the second runs after the first must not move up into the first's epilogue.
TEST(CudaPlanFusion, SumOfTwoConvsWaitsForTheLaterOne) {
  const ir::Graph g = test::sum_of_two_convs();
  ASSERT_TRUE(ir::verify(g).ok());
  const Tensor in = test::pattern_input(9, 7);
  const std::vector<Step> steps = expect_host_run_matches_reference(g, in);
  ASSERT_EQ(steps.size(), 3u);  // input, a, c + the sum
  EXPECT_EQ(steps[1].epilogue.residual_count, 0);
  EXPECT_EQ(steps[2].epilogue.residual_count, 1);
}

// Nested sums fold into one epilogue until kMaxResiduals terms; the rest stays a weighted-sum step.
TEST(CudaPlanFusion, NestedSumsFoldUpToTheLimit) {
  test::GraphBuilder b(11);
  const int x = b.input();
  const int f = b.conv("f", x, 6, 3, 0, -1, ir::Activation::kLeakyRelu);
  const int r1 = b.conv("r1", f, 6, 3, 0);
  const int r2 = b.conv("r2", f, 6, 1, 0);
  const int r3 = b.conv("r3", r2, 6, 3, 0);
  const int r4 = b.conv("r4", r3, 6, 3, 0);
  int y = b.conv("main", r4, 6, 3, 0);
  y = b.sum("s1", y, r1, 0.2f, 1.0f);
  y = b.sum("s2", r2, y, 0.5f, 0.3f);
  y = b.sum("s3", y, r3, 1.0f, -1.0f);
  y = b.sum("s4", y, r4, 2.0f, 1.0f);  // a fourth residual: not folded
  b.g.output = b.conv("out", y, 3, 3, 0);
  ASSERT_TRUE(ir::verify(b.g).ok());
  const Tensor in = pattern_input(11, 6);
  const std::vector<Step> steps = expect_host_run_matches_reference(b.g, in);
  EXPECT_EQ(count_kind(steps, StepKind::kWeightedSum), 1u);
  int max_residuals = 0;
  for (const Step& s : steps) max_residuals = std::max(max_residuals, s.epilogue.residual_count);
  EXPECT_EQ(max_residuals, kMaxResiduals);
}

// A value in two concats at different offsets is copied into the second; a PReLU read twice stays a step.
TEST(CudaPlanFusion, ConcatMemberPlacedElsewhereIsCopied) {
  test::GraphBuilder b(5);
  const int x = b.input();
  const int a = b.conv("a", x, 4, 3, 0);
  const int p = b.prelu("p", a);
  const int c = b.conv("c", p, 5, 3, 0);
  const int cat1 = b.concat("cat1", {a, c});
  const int cat2 = b.concat("cat2", {c, a, p});
  const int y1 = b.conv("y1", cat1, 3, 3, 0);
  const int y2 = b.conv("y2", cat2, 3, 1, 0);
  b.g.output = b.sum("out", y1, y2, 1.0f, 1.0f);
  ASSERT_TRUE(ir::verify(b.g).ok());
  const Tensor in = pattern_input(8, 10);
  const std::vector<Step> steps = expect_host_run_matches_reference(b.g, in);
  EXPECT_EQ(count_kind(steps, StepKind::kPRelu), 1u);
  std::vector<Step> s2 = lower_graph(b.g);
  auto plan = plan_device_memory(b.g, s2, 8, 10, 4);
  ASSERT_TRUE(plan.ok());
  std::size_t copies = 0;
  for (const auto& c2 : plan->concat_copies) copies += c2.size();
  EXPECT_GE(copies, 2u);
}

// Lifetimes: the arena is smaller than the sum of all values, and no two values alive together overlap
// unless one is a member slot of the other (a concatenation).
TEST(CudaPlanMemory, ArenaReusesMemoryOfDeadValues) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const ir::Graph& g = *model->graph;
  const std::vector<Step> steps = lower_graph(g);
  auto plan = plan_device_memory(g, steps, 64, 48, 2);
  ASSERT_TRUE(plan.ok());
  std::size_t total = 0;
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (plan->offset[v] != DeviceLayout::kNotPlaced) total += std::size_t(plan->shapes[v].numel()) * 2;
  EXPECT_LT(plan->arena_bytes, total / 4);
  // At most alive together: two 64-channel body planes and the input (a body conv), or the 48-channel last conv
  // output, the input and the output image (the tail); fp16, 64x48.
  const std::size_t plane = 64 * 48 * 2;
  EXPECT_LE(plan->arena_bytes, 2 * 64 * plane + 3 * plane + 48 * plane + 4 * kArenaAlignment);
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    if (plan->offset[v] != DeviceLayout::kNotPlaced) {
      EXPECT_EQ(plan->offset[v] % 64, 0u);
    }
  }
}

// Whole 1080p inputs need no tiles on an 80 GB card: the arena of x4plus (the largest model) at 1920x1080 in
// fp16 stays well under half of it.
TEST(CudaPlanMemory, X4plusAt1080pFitsAGpuWhole) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4plus"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<Step> steps = lower_graph(*model->graph);
  auto plan = plan_device_memory(*model->graph, steps, 1080, 1920, 2);
  ASSERT_TRUE(plan.ok());
  std::printf("[ plan ] x4plus 1920x1080 fp16 arena: %.2f GiB\n", double(plan->arena_bytes) / (1u << 30));
  EXPECT_LT(plan->arena_bytes, std::size_t{40} << 30);
  // At least the two 64-channel planes at 4x that the last upsampled conv reads and writes.
  EXPECT_GE(plan->arena_bytes, std::size_t{2} * 64 * 1080 * 4 * 1920 * 4 * 2);
}

TEST(CudaPlanMemory, BadSizeIsAnError) {
  auto model = engine::load_model({test::model_dir(), "realesrgan-x4fast"});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::vector<Step> steps = lower_graph(*model->graph);
  EXPECT_FALSE(plan_device_memory(*model->graph, steps, 0, 5, 2).ok());
}

// The pixel conversions the device pre/post-processing uses, against the CPU path's std::lround.
TEST(CudaElementMath, SampleRoundTripMatchesLround) {
  for (int bits : {8, 16}) {
    const float max = bits == 16 ? 65535.0f : 255.0f;
    for (unsigned q = 0; q <= unsigned(max); q += bits == 16 ? 97 : 1)
      EXPECT_EQ(sample_from_unit(unit_from_sample(q, bits), bits), q);
    for (int i = -50; i <= 1100; ++i) {
      const float v = float(i) / 1000.0f + 0.0001234f;
      const float c = std::clamp(v, 0.0f, 1.0f);
      EXPECT_EQ(sample_from_unit(v, bits), unsigned(std::lround(c * max))) << v;
    }
    EXPECT_EQ(sample_from_unit(std::numeric_limits<float>::quiet_NaN(), bits), 0u);
  }
}

// Every byte random: all sample values and both byte orders of 16-bit samples get exercised.
Image random_image(int w, int h, int channels, int bits, unsigned seed) {
  Image img = testing::blank(w, h, channels, bits);
  std::mt19937 rng(seed);
  for (auto& b : img.bytes) b = static_cast<std::uint8_t>(rng());
  return img;
}

// The device pre-processing (unpack_k's per-element body) against the host path, engine::image_region_to_tensor.
TEST(CudaElementMath, UnpackMatchesImageRegionToTensor) {
  for (int channels : {1, 3})
    for (int bits : {8, 16}) {
      const Image img = random_image(13, 9, channels, bits, unsigned(channels * 100 + bits));
      const tiling::Rect r{2, 3, 7, 5};
      const Tensor want = engine::image_region_to_tensor(img, r);
      const std::size_t px = std::size_t(channels) * (bits / 8), row = std::size_t(img.width) * px;
      const std::uint8_t* base = img.bytes.data() + (std::size_t(r.y) * img.width + r.x) * px;
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < r.h; ++y)
          for (int x = 0; x < r.w; ++x)
            ASSERT_EQ(unpack_sample(base, row, channels, bits, c, x, y), want.at(c, y, x))
                << channels << " ch, " << bits << " bits at " << c << "," << x << "," << y;
    }
}

// The device post-processing (pack_k's per-element body: clamp, scale, round, gray = mean) against
// engine::paste_tensor_region, for values outside [0,1] and NaN too.
TEST(CudaElementMath, PackMatchesPasteTensorRegion) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-0.2f, 1.2f);
  Tensor planes(3, 6, 8);
  for (std::int64_t i = 0; i < planes.numel(); ++i) planes.data()[i] = d(rng);
  planes.data()[5] = std::numeric_limits<float>::quiet_NaN();
  for (int channels : {1, 3})
    for (int bits : {8, 16}) {
      Image want = random_image(10, 7, channels, bits, 9);
      Image got = want;
      const tiling::Rect window{1, 2, 5, 4};
      engine::paste_tensor_region(planes, nullptr, window, want, 3, 1);
      const int bytes = bits / 8;
      for (int y = 0; y < window.h; ++y)
        for (int x = 0; x < window.w; ++x)
          for (int k = 0; k < channels; ++k) {
            const int sx = window.x + x, sy = window.y + y;
            const unsigned q =
                pack_sample(planes.at(0, sy, sx), planes.at(1, sy, sx), planes.at(2, sy, sx), channels, k, bits);
            std::uint8_t* p = got.bytes.data() + ((std::size_t(1 + y) * got.width + 3 + x) * channels + k) * bytes;
            p[0] = static_cast<std::uint8_t>(q & 0xffu);
            if (bytes == 2) p[1] = static_cast<std::uint8_t>(q >> 8);
          }
      EXPECT_EQ(got.bytes, want.bytes) << channels << " ch, " << bits << " bits";
    }
}

// The INT8 input quantization of the device (quantize_k) against the reference kernel's rule.
TEST(CudaElementMath, QuantizeSymmetricMatchesReferenceRule) {
  const float scale = 0.0173f;
  for (int i = -20000; i <= 20000; ++i) {
    const float x = float(i) * 0.000731f;
    const float want = std::clamp(std::nearbyint(x / scale), -127.0f, 127.0f);
    ASSERT_EQ(quantize_symmetric(x, scale), int(want)) << x;
  }
  EXPECT_EQ(quantize_symmetric(2.5f, 1.0f), 2);  // half to even
  EXPECT_EQ(quantize_symmetric(-3.5f, 1.0f), -4);
  EXPECT_EQ(quantize_symmetric(std::numeric_limits<float>::quiet_NaN(), 1.0f), -127);
  EXPECT_EQ(quantize_symmetric(1e30f, 1.0f), 127);
}

// The chain of pointwise ops a fused cuDNN graph is built from (epilogue_chain.h), evaluated on the host, equals
// epilogue_value: for every conv epilogue of the real models and for forms they do not have.
float evaluate_chain(const EpilogueChain& chain, float conv, float bias, float slope, const float* residuals,
                     float dequant = 1.0f) {
  std::vector<float> values{conv};
  for (const ChainOp& op : chain.ops) {
    const float x = values[std::size_t(op.x)];
    float b = 0.0f;
    switch (op.b.kind) {
      case ChainOperand::kNone:
        break;
      case ChainOperand::kBias:
        b = bias;
        break;
      case ChainOperand::kSlopes:
        b = slope;
        break;
      case ChainOperand::kDequant:
        b = dequant;
        break;
      case ChainOperand::kConstant:
        b = chain.constants[std::size_t(op.b.index)];
        break;
      case ChainOperand::kResidual:
        b = residuals[op.b.index];
        break;
      case ChainOperand::kValue:
        b = values[std::size_t(op.b.index)];
        break;
    }
    float y = 0.0f;
    switch (op.mode) {
      case ChainOp::kAdd:
        y = x + b;
        break;
      case ChainOp::kSub:
        y = x - b;
        break;
      case ChainOp::kMul:
        y = x * b;
        break;
      case ChainOp::kRelu:
        y = x > 0.0f ? x : op.slope * x;
        break;
      case ChainOp::kMin:
        y = std::min(x, b);
        break;
      case ChainOp::kMax:
        y = std::max(x, b);
        break;
      case ChainOp::kFloor:
        y = std::floor(x);
        break;
    }
    values.push_back(y);
  }
  return values.back();
}

void expect_chain_matches(const EpilogueForm& form, const std::string& what) {
  const EpilogueChain chain = epilogue_chain(form);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (int i = 0; i < 2000; ++i) {
    const float conv = u(rng), bias = form.has_bias ? u(rng) : 0.0f, channel_slope = u(rng) * 0.5f;
    const float residuals[kMaxResiduals] = {u(rng), u(rng), u(rng)};
    const bool per_channel = form.act == Act::kPrelu && form.per_channel_slopes;
    const float slope = per_channel ? channel_slope : form.leaky_slope;
    const Act act = form.act == Act::kNone ? Act::kNone : Act::kLeaky;
    const float want =
        epilogue_value(conv, bias, act, slope, form.out_scale, residuals, form.residual_scales, form.residual_count);
    const float got = evaluate_chain(chain, conv, bias, channel_slope, residuals);
    ASSERT_NEAR(got, want, 1e-5f * (1.0f + std::fabs(want))) << what << " sample " << i;
  }
}

TEST(CudaEpilogueChain, MatchesEpilogueValueForEveryConvOfTheRealModels) {
  for (const char* name : {"realesrgan-x4plus", "realesrgan-x4fast"}) {
    auto model = engine::load_model({test::model_dir(), name});
    ASSERT_TRUE(model.ok()) << model.status().message();
    int convs = 0, with_residuals = 0;
    for (const Step& s : lower_graph(*model->graph)) {
      if (s.kind != StepKind::kConv) continue;
      ++convs;
      with_residuals += s.epilogue.residual_count > 0;
      expect_chain_matches(epilogue_form(s.epilogue, !s.node->bias.empty()), s.node->name);
      if (HasFatalFailure()) return;
    }
    EXPECT_GT(convs, 0) << name;
    if (std::string(name) == "realesrgan-x4plus") {
      EXPECT_GT(with_residuals, 0);
    }
  }
}

TEST(CudaEpilogueChain, MatchesEpilogueValueForOtherForms) {
  EpilogueForm prelu_residuals;
  prelu_residuals.has_bias = true;
  prelu_residuals.act = Act::kPrelu;
  prelu_residuals.per_channel_slopes = true;
  prelu_residuals.out_scale = 0.5f;
  prelu_residuals.residual_count = 3;
  prelu_residuals.residual_scales[0] = -0.25f;
  prelu_residuals.residual_scales[1] = 3.0f;
  prelu_residuals.residual_scales[2] = 1.0f;
  expect_chain_matches(prelu_residuals, "per-channel PReLU + 3 residuals");
  EpilogueForm scale_only;
  scale_only.out_scale = 0.2f;
  expect_chain_matches(scale_only, "scale only");
  EXPECT_EQ(epilogue_chain(scale_only).ops.size(), 1u);
  EXPECT_TRUE(epilogue_chain(EpilogueForm{}).ops.empty());  // the identity needs no op
}

// INT8 forms: the int32 sums dequantized per channel first, and with a hand-over the result quantized for the
// next conv as quantize_symmetric does (ties may round the other way: at most one level apart).
// A form with bias whose sums are dequantized and whose output hands over in `h` with `scale`.
EpilogueForm hand_over_form(HandOver h, float scale) {
  EpilogueForm form;
  form.has_bias = true;
  form.dequantize = true;
  form.quantize_output = h;
  form.output_scale = scale;
  return form;
}

TEST(CudaEpilogueChain, Int8FormsDequantizeAndQuantizeTheHandOver) {
  EpilogueForm form = hand_over_form(HandOver::kInt8, 0.031f);
  form.act = Act::kPrelu;
  form.per_channel_slopes = true;
  const EpilogueChain chain = epilogue_chain(form);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> sums(-60000, 60000);
  int exact = 0, saturated = 0;
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    const float acc = float(sums(rng)), dequant = 0.0001f * (1.0f + u(rng)), bias = u(rng), slope = 0.25f * u(rng);
    const float none[kMaxResiduals] = {};
    const float fp = epilogue_value(acc * dequant, bias, Act::kLeaky, slope, 1.0f, none, form.residual_scales, 0);
    const int want = quantize_symmetric(fp, form.output_scale);
    const float got = evaluate_chain(chain, acc, bias, slope, none, dequant);
    ASSERT_EQ(got, std::floor(got)) << "not an integer level: " << got;
    ASSERT_LE(std::fabs(got - float(want)), 1.0f) << "sum " << acc << " dequant " << dequant;
    exact += got == float(want);
    saturated += std::abs(want) == 127;
  }
  EXPECT_GT(exact, n * 99 / 100);
  EXPECT_GT(saturated, 0);  // the clamp was exercised
  EpilogueForm plain;       // dequantize only: fp output
  plain.dequantize = true;
  const float none[kMaxResiduals] = {};
  EXPECT_FLOAT_EQ(evaluate_chain(epilogue_chain(plain), 1000.0f, 0.0f, 0.0f, none, 0.002f), 2.0f);
}

// The FP8 hand-over: the chain scales and saturates, and the E4M3 store rounds; together they must give what
// the kernels' own conversion (core/fp8.h, as __NV_SATFINITE) gives for the fp result.
TEST(CudaEpilogueChain, Fp8HandOverScalesAndSaturatesForTheE4m3Store) {
  EpilogueForm form = hand_over_form(HandOver::kE4m3, 0.0125f);
  form.act = Act::kLeaky;
  form.leaky_slope = 0.2f;
  const EpilogueChain chain = epilogue_chain(form);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int saturated = 0;
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    const float sum = 3000.0f * u(rng), dequant = 0.002f * (1.0f + u(rng)), bias = u(rng);
    const float none[kMaxResiduals] = {};
    const float fp = epilogue_value(sum * dequant, bias, Act::kLeaky, 0.2f, 1.0f, none, form.residual_scales, 0);
    const float got = evaluate_chain(chain, sum, bias, 0.2f, none, dequant);
    ASSERT_LE(std::fabs(got), 448.0f);
    ASSERT_EQ(round_to_e4m3(got), round_to_e4m3(fp / form.output_scale)) << "sum " << sum << " dequant " << dequant;
    saturated += std::fabs(fp / form.output_scale) > 448.0f;
  }
  EXPECT_GT(saturated, 0);  // the clamp was exercised
}

}  // namespace
}  // namespace resr::cuda
