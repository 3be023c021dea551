// engine::upscale_image when the backend runs out of memory: the pass is run again with half the tile until it
// fits, the output equals a run that never failed, and an image that does not fit even at the smallest tile
// (or fails for another reason) gives the backend's error, not a partial image.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "engine/backend_factory.h"
#include "engine/compiled_model.h"
#include "engine/model_loader.h"
#include "engine/upscale.h"
#include "image/codec.h"
#include "support/paths.h"

namespace resr {
namespace {

enum class Failure { kOutOfMemoryStatus, kBadAlloc, kOtherError };

// The CPU backend, failing every run on an input of more than `max_pixels` pixels the way `failure` says.
class MemoryLimitedExecutable final : public Executable {
 public:
  MemoryLimitedExecutable(std::unique_ptr<Executable> inner, long max_pixels, Failure failure)
      : inner_(std::move(inner)), max_pixels_(max_pixels), failure_(failure) {}

  Result<Tensor> run(const Tensor& input) override {
    ++runs_;
    if (long(input.h()) * input.w() > max_pixels_) {
      ++failures_;
      switch (failure_) {
        case Failure::kOutOfMemoryStatus:
          return Status::out_of_memory("cuda: cudaMalloc: out of memory");
        case Failure::kBadAlloc:
          throw std::bad_alloc();
        case Failure::kOtherError:
          return Status::error("cuda: an illegal memory access was encountered");
      }
    }
    largest_run_ = std::max(largest_run_, long(input.h()) * input.w());
    return inner_->run(input);
  }
  Result<std::uint64_t> working_bytes(int h, int w) override { return inner_->working_bytes(h, w); }
  std::string backend_name() const override { return "limited " + inner_->backend_name(); }
  void set_observer(ActivationObserver observer) override { inner_->set_observer(std::move(observer)); }
  std::uint64_t max_run_pixels() override { return declares_limit_ ? std::uint64_t(max_pixels_) : 0; }

  int runs_ = 0, failures_ = 0;
  long largest_run_ = 0;
  bool declares_limit_ = false;  // says its limit up front (max_run_pixels), as cuDNN's tensor size limit is said

 private:
  std::unique_ptr<Executable> inner_;
  long max_pixels_;
  Failure failure_;
};

class MemoryRetryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = engine::load_model({test::model_dir(), "x4fast"});
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = new engine::LoadedModel(std::move(*m));
  }
  static void TearDownTestSuite() { delete model_; }

  // A compiled x4fast whose runs fail above `max_pixels`; `limited` points at the wrapper.
  static engine::CompiledModel limited_model(long max_pixels, Failure failure, MemoryLimitedExecutable** limited) {
    auto exe = engine::make_executable(model_->graph, "cpu");
    EXPECT_TRUE(exe.ok()) << exe.status().message();
    auto wrapper = std::make_unique<MemoryLimitedExecutable>(std::move(*exe), max_pixels, failure);
    *limited = wrapper.get();
    return engine::CompiledModel::from_executable(model_->summary, std::move(wrapper));
  }

  static Image test_image() {
    auto img = read_image_file(test::data_path("x4fast_37x29.in.png"));
    EXPECT_TRUE(img.ok());
    return *img;
  }

  // A w x h image tiled from the test image.
  static Image canvas(int w, int h) {
    const Image in = test_image();
    Image big;
    big.width = w;
    big.height = h;
    big.channels = in.channels;
    big.bits = 8;
    big.bytes.resize(big.sample_count());
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < in.channels; ++c)
          big.bytes[(std::size_t(y) * w + x) * in.channels + c] =
              in.bytes[(std::size_t(y % in.height) * in.width + x % in.width) * in.channels + c];
    return big;
  }

  static Image reference(const Image& in, const engine::UpscaleSettings& s) {
    MemoryLimitedExecutable* limited = nullptr;
    engine::CompiledModel model = limited_model(1L << 30, Failure::kOtherError, &limited);
    auto out = engine::upscale_image(in, model, s);
    EXPECT_TRUE(out.ok()) << out.status().message();
    return *out;
  }

  // The largest difference between two 8-bit images of one size, in levels.
  static int max_level_diff(const Image& a, const Image& b) {
    int worst = 0;
    for (std::size_t i = 0; i < a.bytes.size() && i < b.bytes.size(); ++i)
      worst = std::max(worst, std::abs(int(a.bytes[i]) - int(b.bytes[i])));
    return worst;
  }

  static inline engine::LoadedModel* model_ = nullptr;
};

// 160x144 = 23040 pixels do not fit in 12000. Halved cores of 80x72 with x4fast's 34 pixels of context (on the
// sides where the image goes on) take 114x106 = 12084 input pixels: too many again. Cores of 40x36 take at most
// 108x104 = 11232: they fit.
TEST_F(MemoryRetryTest, OutOfMemoryRetriesWithSmallerTilesAndMatchesTheWholeImage) {
  const Image in = canvas(160, 144);
  engine::UpscaleSettings fixed;
  fixed.tile = 1000;
  const Image whole = reference(in, fixed);
  for (Failure failure : {Failure::kOutOfMemoryStatus, Failure::kBadAlloc}) {
    MemoryLimitedExecutable* limited = nullptr;
    engine::CompiledModel model = limited_model(12000, failure, &limited);
    engine::UpscaleSettings s;  // auto tiles: the whole image fits the host budget, so it is tried first
    int last_done = 0, last_total = 0;
    s.on_tile = [&](int done, int total) {
      last_done = done;
      last_total = total;
    };
    engine::StageTimes times;
    auto out = engine::upscale_image(in, model, s, &times);
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(times.memory_retries, 2);
    EXPECT_EQ(limited->failures_, 2);
    EXPECT_LE(limited->largest_run_, 12000);
    EXPECT_EQ(times.tiles, 16);  // 4 x 4 cores of 40x36; the failed attempts' tiles are not counted
    EXPECT_EQ(last_done, 16);
    EXPECT_EQ(last_total, 16);
    ASSERT_EQ(out->bytes.size(), whole.bytes.size());
    EXPECT_LE(max_level_diff(*out, whole), 1) << "x4fast tiles with 34 pixels of context match the whole image";
  }
}

// A backend that says how many pixels one run can take (CUDA: cuDNN's 2^31-element tensors) gets automatic tiles
// within it at once: nothing fails, nothing is retried, and the output is the same.
TEST_F(MemoryRetryTest, AutomaticTilesKeepWithinTheBackendsLargestRun) {
  const Image in = canvas(160, 144);
  engine::UpscaleSettings fixed;
  fixed.tile = 1000;
  const Image whole = reference(in, fixed);
  MemoryLimitedExecutable* limited = nullptr;
  engine::CompiledModel model = limited_model(12000, Failure::kOtherError, &limited);
  limited->declares_limit_ = true;
  EXPECT_EQ(model.max_tile_pixels(), 12000u);
  engine::StageTimes times;
  auto out = engine::upscale_image(in, model, {}, &times);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(limited->failures_, 0);
  EXPECT_EQ(times.memory_retries, 0);
  EXPECT_LE(limited->largest_run_, 12000);
  EXPECT_GT(limited->largest_run_, 6000) << "the tiles are not needlessly small";
  ASSERT_EQ(out->bytes.size(), whole.bytes.size());
  EXPECT_LE(max_level_diff(*out, whole), 1);
}

TEST_F(MemoryRetryTest, AnExplicitTileIsHalvedToo) {
  MemoryLimitedExecutable* limited = nullptr;
  engine::CompiledModel model = limited_model(1500, Failure::kOutOfMemoryStatus, &limited);
  engine::UpscaleSettings s;
  s.tile = 64;
  s.tile_pad = 4;
  engine::StageTimes times;
  auto out = engine::upscale_image(canvas(80, 72), model, s, &times);
  ASSERT_TRUE(out.ok()) << out.status().message();
  // Tiles of 64 give 2 x 2 cores of 40x36 (balanced), 44x40 input pixels each: over 1500. Halved, the cores
  // are 20x18 (4 x 4 of them), at most 28x26 = 728 input pixels.
  EXPECT_EQ(times.memory_retries, 1);
  EXPECT_EQ(times.tiles, 16);
  EXPECT_EQ(out->width, 320);
  EXPECT_EQ(out->height, 288);
}

// Two passes (x16 with x4fast): the first runs out of memory once and fits with 20x18 cores; the second (4x the
// pixels, whole-image tiles by the budget) starts from those cores instead of failing again.
TEST_F(MemoryRetryTest, LaterPassesStartFromTheCoresThatFit) {
  MemoryLimitedExecutable* limited = nullptr;
  engine::CompiledModel model = limited_model(1000, Failure::kOutOfMemoryStatus, &limited);
  engine::UpscaleSettings s;
  s.scale = 16;
  s.tile_pad = 4;
  int last_done = 0, last_total = 0;
  s.on_tile = [&](int done, int total) {
    last_done = done;
    last_total = total;
  };
  engine::StageTimes times;
  auto out = engine::upscale_image(canvas(40, 36), model, s, &times);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(times.passes, 2);
  EXPECT_EQ(out->width, 640);
  EXPECT_EQ(times.memory_retries, 1);
  EXPECT_EQ(limited->failures_, 1);
  EXPECT_LE(limited->largest_run_, 1000);
  EXPECT_EQ(times.tiles, 4 + 64);  // 2 x 2 cores of 20x18, then 8 x 8 of them
  EXPECT_EQ(last_done, 68);
  EXPECT_EQ(last_total, 68);
}

TEST_F(MemoryRetryTest, OutOfMemoryAtTheSmallestTileFailsWithTheBackendsMessage) {
  MemoryLimitedExecutable* limited = nullptr;
  engine::CompiledModel model = limited_model(100, Failure::kOutOfMemoryStatus, &limited);
  engine::StageTimes times;
  auto out = engine::upscale_image(test_image(), model, {}, &times);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().is_out_of_memory());
  EXPECT_NE(out.status().message().find("cudaMalloc"), std::string::npos) << out.status().message();
  EXPECT_EQ(limited->runs_, limited->failures_) << "nothing ran";
  EXPECT_GE(times.memory_retries, 1);
}

TEST_F(MemoryRetryTest, OtherErrorsAreNotRetried) {
  MemoryLimitedExecutable* limited = nullptr;
  engine::CompiledModel model = limited_model(900, Failure::kOtherError, &limited);
  engine::StageTimes times;
  auto out = engine::upscale_image(test_image(), model, {}, &times);
  ASSERT_FALSE(out.ok());
  EXPECT_FALSE(out.status().is_out_of_memory());
  EXPECT_NE(out.status().message().find("illegal memory access"), std::string::npos);
  EXPECT_EQ(limited->runs_, 1);
  EXPECT_EQ(times.memory_retries, 0);
}

TEST(StatusTest, OutOfMemoryIsKeptThroughContext) {
  const Status s = Status::out_of_memory("cudaMalloc failed").with_context("a.png");
  EXPECT_TRUE(s.is_out_of_memory());
  EXPECT_EQ(s.message(), "a.png: cudaMalloc failed");
  EXPECT_FALSE(Status::error("x").is_out_of_memory());
  const Result<int> r = Status::out_of_memory("y");
  EXPECT_TRUE(r.status().is_out_of_memory());
}

}  // namespace
}  // namespace resr
