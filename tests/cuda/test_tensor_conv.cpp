// resr's tensor-core conv (tensor_conv.h) on the GPU, alone: every cut the device offers (rows a warp, channel
// chunks, one or two stages), fp16, int8 and (compute capability 8.9 and later) E4M3 products, against a plain
// conv on the host from the same fp16 data. The images are large enough that persistent blocks take several
// tiles each; each cut also runs on a grid of 7 blocks, so the loop over tiles and stages runs long, and on more
// blocks than tiles (blocks without a stage load nothing). Channel slices (input and output inside wider
// storages) and a residual; 8-bit codes read and written (hand-overs); int8 by per-channel scales. Without a GPU
// the tests skip.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/conv_weight_prep.h"
#include "backends/cuda/device.h"
#include "backends/cuda/tensor_conv.h"
#include "backends/cuda/tensor_conv_warpgroup.h"
#include "core/fp8.h"
#include "core/half.h"

namespace resr::cuda {
namespace {

using tensor_conv::Products;

// A device allocation freed with its owner.
struct Device {
  void* p = nullptr;
  explicit Device(std::size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr;
  }
  ~Device() { cudaFree(p); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
};

struct Shape {
  int ic, oc, h, w;
  int in_stride, in_offset, out_stride, out_offset;  // channel slices of wider NHWC storages
};

const char* products_name(Products p) {
  return p == Products::kInt8 ? "int8" : p == Products::kFp8 ? "fp8" : "fp16";
}

// The input as the products see it: fp16, or quantized as the INT8 and FP8 paths round it.
double as_product(float v, Products p, float in_scale) {
  if (p == Products::kInt8) return quantize_symmetric(v, in_scale);
  if (p == Products::kFp8) return e4m3_to_float(float_to_e4m3(v / in_scale));
  return v;
}
// An 8-bit code of v with this scale, as the INT8 and FP8 paths round it.
std::uint8_t code_of(float v, Products p, float scale) {
  return p == Products::kInt8 ? std::uint8_t(std::int8_t(quantize_symmetric(v, scale))) : float_to_e4m3(v / scale);
}

// Hand-overs (TensorConvArgs codes_in, codes_out_scale): none, the input as codes, the output as codes, or both.
enum class Handover { kNone, kIn, kOut, kBoth };
const char* handover_name(Handover h) {
  return h == Handover::kIn     ? ", codes in"
         : h == Handover::kOut  ? ", codes out"
         : h == Handover::kBoth ? ", codes in and out"
                                : "";
}

// channel_scales (int8): the input quantized by a scale per channel (TensorConvArgs::in_channel_quant), and codes
// handed over by one per output channel (codes_out_channel_quant).
void check(const Shape& s, Products products, Handover handover = Handover::kNone, bool channel_scales = false) {
  const bool codes_in = handover == Handover::kIn || handover == Handover::kBoth;
  const bool codes_out = handover == Handover::kOut || handover == Handover::kBoth;
  std::mt19937 rng(unsigned(s.ic * 7 + s.oc + s.h));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // per channel: factors 0.5 .. 2 of the tensor's scales (0.02 in, 0.07 out: outputs up to about 8)
  std::vector<float> in_scales(std::size_t(s.ic), 0.02f), out_scales(std::size_t(s.oc), 0.07f);
  if (channel_scales) {
    for (int c = 0; c < s.ic; ++c) in_scales[std::size_t(c)] *= 0.5f + 0.25f * float((c * 5) % 7);
    for (int c = 0; c < s.oc; ++c) out_scales[std::size_t(c)] *= 0.5f + 0.3f * float((c * 3) % 5);
  }
  const float in_scale = 0.02f, handover_scale = 0.07f;
  std::vector<std::uint16_t> x(std::size_t(s.h) * s.w * s.in_stride), residual(std::size_t(s.h) * s.w * s.oc);
  for (auto& v : x) v = float_to_half(u(rng) * 2.0f);
  for (auto& v : residual) v = float_to_half(u(rng));
  const std::size_t weights = std::size_t(s.oc) * 9 * s.ic;
  std::vector<std::uint8_t> w(weights * (products == Products::kFp16 ? 2 : 1));
  std::vector<double> weight_value(weights);
  for (std::size_t i = 0; i < weights; ++i) {
    if (products == Products::kFp16) {
      const std::uint16_t h = float_to_half(u(rng) * 0.05f);
      std::memcpy(&w[2 * i], &h, 2);
      weight_value[i] = half_to_float(h);
    } else if (products == Products::kInt8) {
      w[i] = std::uint8_t(std::int8_t(std::lround(u(rng) * 127.0f)));
      weight_value[i] = std::int8_t(w[i]);
    } else {
      w[i] = float_to_e4m3(u(rng) * 448.0f);
      weight_value[i] = e4m3_to_float(w[i]);
    }
  }
  std::vector<float> bias(std::size_t(s.oc)), dequant(std::size_t(s.oc));
  for (int c = 0; c < s.oc; ++c) {
    bias[std::size_t(c)] = u(rng) * 0.2f;
    dequant[std::size_t(c)] = products == Products::kInt8 ? in_scale * 0.0003f : in_scale * 0.00005f;
  }
  // The host's answer: conv, dequantization, bias, LeakyReLU 0.2, x 0.5, + residual. Each sample's product value
  // once (the 8-bit roundings are software), then the rows on every core: minutes of device time otherwise.
  std::vector<double> product_in(std::size_t(s.h) * s.w * s.ic);
  for (std::size_t p = 0; p < std::size_t(s.h) * s.w; ++p)
    for (int i = 0; i < s.ic; ++i)
      product_in[p * s.ic + i] =
          as_product(half_to_float(x[p * s.in_stride + s.in_offset + i]), products, in_scales[std::size_t(i)]);
  std::vector<double> want(std::size_t(s.h) * s.w * s.oc);
  auto rows = [&](int y_begin, int y_end) {
    for (int y = y_begin; y < y_end; ++y)
      for (int xx = 0; xx < s.w; ++xx)
        for (int c = 0; c < s.oc; ++c) {
          double sum = 0;
          for (int tap = 0; tap < 9; ++tap) {
            const int sy = y + tap / 3 - 1, sx = xx + tap % 3 - 1;
            if (sy < 0 || sy >= s.h || sx < 0 || sx >= s.w) continue;
            const double* px = &product_in[(std::size_t(sy) * s.w + sx) * s.ic];
            const double* pw = &weight_value[(std::size_t(c) * 9 + tap) * s.ic];
            for (int i = 0; i < s.ic; ++i) sum += px[i] * pw[i];
          }
          double v = (products == Products::kFp16 ? sum : sum * dequant[std::size_t(c)]) + bias[std::size_t(c)];
          if (v < 0) v *= 0.2;
          const std::size_t at = (std::size_t(y) * s.w + xx) * s.oc + c;
          want[at] = 0.5 * v + half_to_float(residual[at]);
        }
  };
  {
    const int threads = std::clamp(int(std::thread::hardware_concurrency()), 1, 32);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(rows, s.h * t / threads, s.h * (t + 1) / threads);
    for (std::thread& t : pool) t.join();
  }
  Device dx(x.size() * 2), dw(w.size()), dy(std::size_t(s.h) * s.w * s.out_stride * 2), dr(residual.size() * 2),
      db(bias.size() * 4), dd(dequant.size() * 4), dc_in(std::size_t(s.h) * s.w * s.ic),
      dc_out(std::size_t(s.h) * s.w * s.oc), dq_in(std::size_t(s.ic) * 8), dq_out(std::size_t(s.oc) * 8);
  ASSERT_TRUE(dx.p && dw.p && dy.p && dr.p && db.p && dd.p && dc_in.p && dc_out.p && dq_in.p && dq_out.p);
  if (codes_in) {  // the previous conv's hand-over: the input's codes, dense
    std::vector<std::uint8_t> codes(std::size_t(s.h) * s.w * s.ic);
    for (std::size_t p = 0; p < std::size_t(s.h) * s.w; ++p)
      for (int i = 0; i < s.ic; ++i)
        codes[p * s.ic + i] =
            code_of(half_to_float(x[p * s.in_stride + s.in_offset + i]), products, in_scales[std::size_t(i)]);
    ASSERT_EQ(cudaMemcpy(dc_in.p, codes.data(), codes.size(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ASSERT_EQ(cudaMemcpy(dx.p, x.data(), x.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dw.p, w.data(), w.size(), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dr.p, residual.data(), residual.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(db.p, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dd.p, dequant.data(), dequant.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  TensorConvArgs a;
  a.x = Planes{static_cast<std::uint16_t*>(dx.p) + s.in_offset, s.ic, s.h, s.w, Strides{1, std::size_t(s.in_stride)}};
  a.w = dw.p;
  a.y = Planes{static_cast<std::uint16_t*>(dy.p) + s.out_offset, s.oc, s.h, s.w, Strides{1, std::size_t(s.out_stride)}};
  a.epilogue.bias = static_cast<const float*>(db.p);
  a.epilogue.act = Act::kLeaky;
  a.epilogue.leaky_slope = 0.2f;
  a.epilogue.out_scale = 0.5f;
  a.epilogue.residual_count = 1;
  a.epilogue.residuals[0] = dr.p;
  a.epilogue.residual_strides[0] = Strides{1, std::size_t(s.oc)};
  a.epilogue.residual_scales[0] = 1.0f;
  a.products = products;
  a.in_scale = in_scale;
  a.dequant = static_cast<const float*>(dd.p);
  if (codes_in) {
    a.x = Planes{dc_in.p, s.ic, s.h, s.w, Strides{1, std::size_t(s.ic)}};
    a.codes_in = true;
  }
  if (codes_out) {
    a.y = Planes{dc_out.p, s.oc, s.h, s.w, Strides{1, std::size_t(s.oc)}};
    a.codes_out_scale = handover_scale;
  }
  if (channel_scales) {  // the pairs of scale and 1 / scale the executor uploads (conv_weight_prep.h)
    const std::vector<float> in_pairs = channel_quant_pairs(in_scales), out_pairs = channel_quant_pairs(out_scales);
    ASSERT_EQ(cudaMemcpy(dq_in.p, in_pairs.data(), in_pairs.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dq_out.p, out_pairs.data(), out_pairs.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    a.in_channel_quant = static_cast<const float*>(dq_in.p);
    if (codes_out) a.codes_out_channel_quant = static_cast<const float*>(dq_out.p);
  }
  const std::string refusal = tensor_conv_refusal(a, TensorConvForm{});
  if (!refusal.empty()) GTEST_SKIP() << products_name(products) << ": " << refusal;
  const std::vector<tensor_conv::Cut> cuts = tensor_conv_cuts(a);
  ASSERT_FALSE(cuts.empty());
  // On compute capability 9.0 the convs have warpgroup (wgmma) cuts too: the binary holds their sm_90a code.
  int device = 0, major = 0, minor = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), cudaSuccess);
  const bool warpgroup_listed =
      std::any_of(cuts.begin(), cuts.end(), [](const tensor_conv::Cut& c) { return c.warpgroup; });
  const char* off = std::getenv("RESR_CUDA_TENSOR_WARPGROUP");
  EXPECT_EQ(warpgroup_listed, major == 9 && minor == 0 && !(off != nullptr && std::string(off) == "0"));
  std::vector<std::uint16_t> got(std::size_t(s.h) * s.w * s.out_stride);
  std::vector<std::uint8_t> got_codes(std::size_t(s.h) * s.w * s.oc);
  for (const tensor_conv::Cut& cut : cuts)
    // the launch's grid; 7 blocks (each taking many tiles); more blocks than tiles (some have no stage)
    for (const int grid : {0, 1, 2}) {
      Result<TensorConvLaunch> l = prepare_tensor_conv(a, cut);
      ASSERT_TRUE(l.ok()) << l.status().message();
      if (grid == 1) l->blocks = std::min(l->blocks, 7u);
      if (grid == 2) l->blocks = unsigned(tensor_conv::tile_count(s.h, s.w, cut.rows_per_warp) * cut.parts) + 5u;
      ASSERT_EQ(cudaMemset(dy.p, 0x7f, got.size() * 2), cudaSuccess);  // 0x7f7f: NaN, and outside the slice
      // codes never written: int8 -128 (the codes are -127 .. 127), E4M3 NaN (saturated to finite)
      ASSERT_EQ(cudaMemset(dc_out.p, products == Products::kInt8 ? 0x80 : 0x7f, got_codes.size()), cudaSuccess);
      ASSERT_TRUE(launch_tensor_conv(*l, a, nullptr).ok());
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      const std::string what = tensor_conv::describe(cut);
      if (codes_out) {  // the next conv's codes (int8: the host's, but next to a half step; FP8: its tolerance)
        ASSERT_EQ(cudaMemcpy(got_codes.data(), dc_out.p, got_codes.size(), cudaMemcpyDeviceToHost), cudaSuccess);
        ASSERT_EQ(cudaMemcpy(got.data(), dy.p, got.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
        ASSERT_TRUE(std::all_of(got.begin(), got.end(), [](std::uint16_t v) { return v == 0x7f7f; }))
            << "the fp16 output written too";
        int wrong = 0;
        for (std::size_t i = 0; i < got_codes.size(); ++i) {
          const float e = float(want[i]);
          bool ok = false;
          if (products == Products::kInt8) {
            // the sums' order moves e by about 1e-6 of it: a code may differ only where e / scale is that close to
            // a half step
            const float scale = out_scales[i % std::size_t(s.oc)];
            const double steps = double(e) / scale, from_half = std::abs(steps - std::floor(steps) - 0.5);
            const int code = int(got_codes[i]) - (got_codes[i] >= 128 ? 256 : 0);  // the int8 code's value
            const int host = quantize_symmetric(e, scale);
            ok = got_codes[i] != 0x80 && (code == host || (std::abs(code - host) == 1 && from_half < 1e-3));
          } else {
            const float sat = std::clamp(e, -448.0f * handover_scale, 448.0f * handover_scale);
            ok = std::abs(e4m3_to_float(got_codes[i]) * handover_scale - sat) <=
                 0.07f * std::abs(sat) + 1e-2f * std::max(1.0f, std::abs(e)) + handover_scale * 0x1p-9f;
          }
          if (!ok && wrong++ < 3)
            ADD_FAILURE() << products_name(products) << " " << what << ": code " << int(got_codes[i]) << " for " << e
                          << " at " << i;
        }
        std::printf("[ cuda ] tensor conv %s %d->%d @%dx%d %s%s%s, %u blocks: %d codes off\n", products_name(products),
                    s.ic, s.oc, s.w, s.h, what.c_str(), handover_name(handover),
                    channel_scales ? ", per-channel scales" : "", l->blocks, wrong);
        EXPECT_EQ(wrong, 0) << products_name(products) << " " << what << handover_name(handover);
        continue;
      }
      ASSERT_EQ(cudaMemcpy(got.data(), dy.p, got.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
      double worst = 0;
      for (int p = 0; p < s.h * s.w; ++p)
        for (int c = 0; c < s.out_stride; ++c) {
          const std::uint16_t g = got[std::size_t(p) * s.out_stride + c];
          if (c < s.out_offset || c >= s.out_offset + s.oc) {
            ASSERT_EQ(g, 0x7f7f) << "written outside the output slice, channel " << c;
            continue;
          }
          const double v = half_to_float(g), e = want[std::size_t(p) * s.oc + (c - s.out_offset)];
          worst = std::max(worst, std::isfinite(v) ? std::abs(v - e) / std::max(1.0, std::abs(e)) : 1e9);
        }
      std::printf("[ cuda ] tensor conv %s %d->%d @%dx%d %s%s%s, %u blocks: worst %.2g\n", products_name(products),
                  s.ic, s.oc, s.w, s.h, what.c_str(), handover_name(handover),
                  channel_scales ? ", per-channel scales" : "", l->blocks, worst);
      // FP8 sums: Hopper's FP8 tensor cores keep fewer accumulator bits than fp32 (reported 13-14)
      EXPECT_LT(worst, products == Products::kFp8 ? 1e-2 : 4e-3)
          << products_name(products) << " " << what << handover_name(handover)
          << (grid == 1   ? ", 7 blocks"
              : grid == 2 ? ", more blocks than tiles"
                          : "");
    }
}

// One wgmma of each element type and width (tensor_conv_warpgroup.h warpgroup_product: the kernels' own wrappers,
// descriptor and layouts) against the product on the host, on small integers so that every sum is exact in each
// type: where the conv's warpgroup cuts fail, this tells the instruction from the conv around it. Compute
// capability 9.0 only.
TEST(WarpgroupMma, OneProductOfEachTypeAndWidthEqualsTheHostProduct) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) GTEST_SKIP() << "no CUDA GPU here (" << dev.reason << "): skipped";
  int device = 0, major = 0, minor = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), cudaSuccess);
  if (major != 9 || minor != 0) GTEST_SKIP() << "wgmma needs compute capability 9.0: skipped";
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> small(-4, 4);
  for (const Products products : {Products::kFp16, Products::kInt8, Products::kFp8}) {
    const int per_word = products == Products::kFp16 ? 2 : 4, k = 8 * per_word;
    // an element's bits: fp16, int8 or E4M3 (all of -4 .. 4 exact in each)
    const auto bits = [&](int v) -> std::uint32_t {
      if (products == Products::kFp16) return float_to_half(float(v));
      if (products == Products::kInt8) return std::uint8_t(std::int8_t(v));
      return float_to_e4m3(float(v));
    };
    for (const int n : {32, 48, 64}) {
      std::vector<int> am(std::size_t(64) * k), bm(std::size_t(n) * k);  // A [row][k], B [column][k]
      for (int& v : am) v = small(rng);
      for (int& v : bm) v = small(rng);
      const auto pack = [&](const std::vector<int>& m, int rows) {  // 8 words a row, the lower element lower
        std::vector<std::uint32_t> words(std::size_t(rows) * 8, 0);
        for (int r = 0; r < rows; ++r)
          for (int e = 0; e < k; ++e)
            words[std::size_t(r) * 8 + e / per_word] |= bits(m[std::size_t(r) * k + e])
                                                        << (32 / per_word * (e % per_word));
        return words;
      };
      const std::vector<std::uint32_t> a = pack(am, 64), b = pack(bm, n);
      std::vector<float> df(std::size_t(64) * n);
      std::vector<std::int32_t> di(std::size_t(64) * n);
      void* d = products == Products::kInt8 ? static_cast<void*>(di.data()) : static_cast<void*>(df.data());
      const Status done = warpgroup_product(products, n, a.data(), b.data(), d);
      ASSERT_TRUE(done.ok()) << done.message();
      int wrong = 0;
      for (int row = 0; row < 64; ++row)
        for (int col = 0; col < n; ++col) {
          long long want = 0;
          for (int e = 0; e < k; ++e) want += am[std::size_t(row) * k + e] * bm[std::size_t(col) * k + e];
          const std::size_t at = std::size_t(row) * n + col;
          const double got = products == Products::kInt8 ? double(di[at]) : double(df[at]);
          if (got != double(want) && wrong++ < 3)
            ADD_FAILURE() << products_name(products) << " n " << n << " row " << row << " column " << col << ": " << got
                          << " vs " << want;
        }
      std::printf("[ cuda ] one wgmma %s n%d: %d of %d sums wrong\n", products_name(products), n, wrong, 64 * n);
      EXPECT_EQ(wrong, 0);
    }
  }
}

class TensorConvOnGpu : public ::testing::TestWithParam<Products> {};

TEST_P(TensorConvOnGpu, EveryCutEqualsAPlainConv) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) GTEST_SKIP() << "no CUDA GPU here (" << dev.reason << "): skipped";
  // x4fast's body (64 -> 64) on more tiles than an H200 holds blocks, an x4plus dense-block conv on slices (160
  // of 192 -> 32 at 128), and its conv5 (192 -> 64).
  check(Shape{64, 64, 150, 260, 64, 0, 64, 0}, GetParam());
  check(Shape{160, 32, 45, 77, 192, 0, 192, 128}, GetParam());
  check(Shape{192, 64, 33, 41, 192, 0, 64, 0}, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Products, TensorConvOnGpu, ::testing::Values(Products::kFp16, Products::kInt8, Products::kFp8),
                         [](const ::testing::TestParamInfo<Products>& i) { return products_name(i.param); });

// Hand-overs between 8-bit convs (the executor's chains of them, x4fast's body): the input read as codes, the
// output written as the next conv's codes, and both, on every cut; a slice as the output of codes_in alone.
class TensorConvHandoverOnGpu : public ::testing::TestWithParam<Products> {};

TEST_P(TensorConvHandoverOnGpu, EveryCutReadsAndWritesCodes) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) GTEST_SKIP() << "no CUDA GPU here (" << dev.reason << "): skipped";
  check(Shape{64, 64, 150, 260, 64, 0, 64, 0}, GetParam(), Handover::kBoth);
  check(Shape{64, 48, 45, 77, 64, 0, 96, 32}, GetParam(), Handover::kIn);
  check(Shape{160, 32, 45, 77, 192, 0, 192, 128}, GetParam(), Handover::kOut);
}

INSTANTIATE_TEST_SUITE_P(Products, TensorConvHandoverOnGpu, ::testing::Values(Products::kInt8, Products::kFp8),
                         [](const ::testing::TestParamInfo<Products>& i) { return products_name(i.param); });

// INT8 with per-channel input scales (the default INT8 model): quantized as loaded by each channel's scale, on
// every cut (chunks of a stage from other than channel 0 included), and codes handed over by the next conv's
// per-channel scales, as x4fast's chain and x4plus's dense-block writers do.
TEST(TensorConvPerChannelOnGpu, Int8ScalesOnEveryCut) {
  const DeviceInfo dev = query_devices();
  if (dev.count == 0) GTEST_SKIP() << "no CUDA GPU here (" << dev.reason << "): skipped";
  check(Shape{64, 64, 150, 260, 64, 0, 64, 0}, Products::kInt8, Handover::kNone, true);
  check(Shape{192, 64, 33, 41, 192, 0, 64, 0}, Products::kInt8, Handover::kNone, true);
  check(Shape{64, 64, 150, 260, 64, 0, 64, 0}, Products::kInt8, Handover::kOut, true);
  check(Shape{160, 32, 45, 77, 192, 0, 192, 128}, Products::kInt8, Handover::kOut, true);
  // codes read in (the executor passes the scales then too; the kernel must not apply them again)
  check(Shape{64, 64, 150, 260, 64, 0, 64, 0}, Products::kInt8, Handover::kBoth, true);
  check(Shape{64, 48, 45, 77, 64, 0, 96, 32}, Products::kInt8, Handover::kIn, true);
}

}  // namespace
}  // namespace resr::cuda
