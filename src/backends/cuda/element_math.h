// The per-element arithmetic of the CUDA backend's kernels, as host + device functions: kernels.cu runs them
// on the GPU, and the host tests (tests/unit/cuda_plan) run the same functions over the same memory plan, so
// index maps, epilogues and pixel conversion are checked on machines without a GPU.
// Tensors are NCHW of batch 1; "index" below is the flat element index of the output.
#pragma once

#include <cmath>
#include <cstddef>

#ifdef __CUDACC__
#define RESR_HD __host__ __device__ inline
#else
#define RESR_HD inline
#endif

namespace resr::cuda {

enum class Act { kNone, kLeaky, kPrelu };

// The most residual terms one fused conv epilogue takes (x4plus's RRDB ends need 2: the RDB input and the
// RRDB input).
constexpr int kMaxResiduals = 3;

// y = out_scale * act(conv + bias) + sum_k residual_scales[k] * residuals[k].
RESR_HD float epilogue_value(float conv, float bias, Act act, float slope, float out_scale, const float* residuals,
                             const float* residual_scales, int residual_count) {
  float v = conv + bias;
  if (act != Act::kNone && v < 0.0f) v *= slope;  // kLeaky: the leaky slope; kPrelu: the channel's slope
  v *= out_scale;
  for (int k = 0; k < residual_count; ++k) v += residual_scales[k] * residuals[k];
  return v;
}

// Source element of nearest upsampling by f: [c, h, w] -> [c, h*f, w*f].
RESR_HD std::size_t upsample_source(std::size_t index, int h, int w, int f) {
  const std::size_t ow = std::size_t(w) * f, oh = std::size_t(h) * f;
  const std::size_t x = index % ow, y = (index / ow) % oh, ch = index / (ow * oh);
  return (ch * h + y / f) * w + x / f;
}

// Source element of pixel shuffle by r: [c*r*r, h, w] -> [c, h*r, w*r], PyTorch order.
RESR_HD std::size_t shuffle_source(std::size_t index, int h, int w, int r) {
  const std::size_t ow = std::size_t(w) * r, oh = std::size_t(h) * r;
  const std::size_t x = index % ow, y = (index / ow) % oh, ch = index / (ow * oh);
  const std::size_t src_c = ch * r * r + (y % r) * r + x % r;
  return (src_c * h + y / r) * w + x / r;
}

// Source element of pixel unshuffle by r: [c, h*r, w*r] -> [c*r*r, h, w] (h, w: the output size).
RESR_HD std::size_t unshuffle_source(std::size_t index, int h, int w, int r) {
  const std::size_t x = index % w, y = (index / w) % h, co = index / (std::size_t(w) * h);
  const std::size_t ch = co / (r * r), dy = (co / r) % r, dx = co % r;
  return (ch * h * r + y * r + dy) * (std::size_t(w) * r) + x * r + dx;
}

// A pixel sample to [0,1]: 8-bit / 255, 16-bit / 65535.
RESR_HD float unit_from_sample(unsigned sample, int bits) {
  return bits == 16 ? float(sample) / 65535.0f : float(sample) / 255.0f;
}

// [0,1] to a sample of `bits`: NaN -> 0, clamped, rounded half away from zero (what std::lround does for
// these non-negative values, written with floor so the GPU gives the same integers).
RESR_HD unsigned sample_from_unit(float v, int bits) {
  v = v != v ? 0.0f : (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
  const float scaled = v * (bits == 16 ? 65535.0f : 255.0f);
  const float whole = floorf(scaled);
  return unsigned(whole) + (scaled - whole >= 0.5f ? 1u : 0u);
}

// Plane c at (x, y) of interleaved 8/16-bit pixels (rows of row_bytes; 16-bit samples little-endian, as Image
// keeps them on these hosts), in [0,1]; gray (channels < 3) is replicated to every plane.
RESR_HD float unpack_sample(const unsigned char* pixels, std::size_t row_bytes, int channels, int bits, int c, int x,
                            int y) {
  const int bytes = bits / 8;
  const unsigned char* p =
      pixels + std::size_t(y) * row_bytes + (std::size_t(x) * channels + (channels >= 3 ? c : 0)) * bytes;
  const unsigned v = bytes == 2 ? unsigned(p[0]) | (unsigned(p[1]) << 8) : unsigned(p[0]);
  return unit_from_sample(v, bits);
}

// Sample k of an output pixel from the model's three planes: the plane itself, or their mean for gray.
RESR_HD unsigned pack_sample(float r, float g, float b, int channels, int k, int bits) {
  const float v = channels >= 3 ? (k == 0 ? r : (k == 1 ? g : b)) : (r + g + b) / 3.0f;
  return sample_from_unit(v, bits);
}

}  // namespace resr::cuda
