// The per-element arithmetic of the CUDA backend's kernels, as host + device functions: kernels.cu runs them
// on the GPU, and the host tests (tests/unit/cuda_plan) run the same functions over the same memory plan, so
// index maps, epilogues and pixel conversion are checked on machines without a GPU.
// Tensors are of batch 1, NCHW or NHWC (Strides).
#pragma once

#include <cmath>
#include <cstddef>

#include "core/gray_from_rgb.h"
#include "passes/epilogue.h"

#ifdef __CUDACC__
#define RESR_HD __host__ __device__ inline
#else
#define RESR_HD inline
#endif

namespace resr::cuda {

using passes::Act;
using passes::kMaxResiduals;

// The epilogue before its residuals: out_scale * act(conv + bias).
RESR_HD float activated_value(float conv, float bias, Act act, float slope, float out_scale) {
  float v = conv + bias;
  if (act != Act::kNone && v < 0.0f) v *= slope;  // kLeaky: the leaky slope; kPrelu: the channel's slope
  return v * out_scale;
}

// y = out_scale * act(conv + bias) + sum_k residual_scales[k] * residuals[k].
RESR_HD float epilogue_value(float conv, float bias, Act act, float slope, float out_scale, const float* residuals,
                             const float* residual_scales, int residual_count) {
  float v = activated_value(conv, bias, act, slope, out_scale);
  for (int k = 0; k < residual_count; ++k) v += residual_scales[k] * residuals[k];
  return v;
}

// Where a tensor's elements lie: element (c, y, x) of a [c, h, w] tensor is c * cs + (y * w + x) * ps elements
// from its start. NCHW: cs = h * w, ps = 1. NHWC inside a storage of S channels: cs = 1, ps = S (a concat member
// is a channel slice of its concatenation's storage).
struct Strides {
  std::size_t cs = 0, ps = 0;
};

struct Coord {
  int c, y, x;
};

// The n-th element of a [c, h, w] tensor in its memory order (channels fastest when cs == 1), so that
// consecutive threads touch consecutive addresses.
RESR_HD Coord coord_in_memory_order(std::size_t n, int c, int h, int w, Strides s) {
  if (s.cs == 1 && s.ps != 1) {
    const std::size_t p = n / std::size_t(c);
    return Coord{int(n % std::size_t(c)), int(p / std::size_t(w)), int(p % std::size_t(w))};
  }
  const std::size_t hw = std::size_t(h) * w, p = n % hw;
  return Coord{int(n / hw), int(p / std::size_t(w)), int(p % std::size_t(w))};
}

RESR_HD std::size_t element_at(Coord e, int w, Strides s) {
  return std::size_t(e.c) * s.cs + (std::size_t(e.y) * w + e.x) * s.ps;
}

// Source coordinates of an output element: nearest upsampling by f ([c, h, w] -> [c, h*f, w*f]), pixel shuffle
// by r ([c*r*r, h, w] -> [c, h*r, w*r], PyTorch order), pixel unshuffle by r (the inverse).
RESR_HD Coord upsample_source(Coord o, int f) {
  return Coord{o.c, o.y / f, o.x / f};
}
RESR_HD Coord shuffle_source(Coord o, int r) {
  return Coord{o.c * r * r + (o.y % r) * r + o.x % r, o.y / r, o.x / r};
}
RESR_HD Coord unshuffle_source(Coord o, int r) {
  return Coord{o.c / (r * r), o.y * r + (o.c / r) % r, o.x * r + o.c % r};
}

// An INT8 conv's input sample (ir::ConvQuant, symmetric): round half to even of x / scale (an IEEE division),
// clamped to [-127, 127]; NaN gives -127, as the reference kernel.
RESR_HD int quantize_symmetric(float x, float scale) {
  const float v = rintf(x / scale);
  if (v != v) return -127;
  return int(v < -127.0f ? -127.0f : (v > 127.0f ? 127.0f : v));
}

// x / scale without a division per sample, for kernels that quantize many samples by one scale: x times the
// reciprocal (1 / scale, computed once), corrected by one fused multiply-add of the remainder. The result is the
// correctly rounded quotient, the same as x / scale (Markstein's correction; tests/unit/cuda_plan checks it
// against the division for every fp16 input over many scales); zeros (their sign), infinities and NaN pass as x
// times the reciprocal.
RESR_HD float quotient_by_reciprocal(float x, float scale, float reciprocal) {
  const float q0 = x * reciprocal;
  const float q = fmaf(fmaf(-scale, q0, x), reciprocal, q0);
  return std::isfinite(q) && q != 0.0f ? q : q0;
}

// quantize_symmetric by the quotient above, in few instructions, for the tensor-core conv's quantizing pass (its
// int8 function, a loop of 16 samples a step: 168 PTX instructions, where the quotient with its fallback and a clamp
// of the result took 367):
// x first clamped to +-limit (limit = 127 x scale, computed once), which maps a NaN to -limit and infinities to
// +-limit and leaves the quotient within 127 of zero but for its rounding, so that neither the quotient's fallback
// for non-finite values nor a clamp of the result is needed. The same codes (tests/unit/cuda_plan checks every
// fp16 input over many scales, and fp32 values next to each half step).
RESR_HD int quantize_symmetric_clamped(float x, float scale, float reciprocal, float limit) {
#ifdef __CUDA_ARCH__
  // the GPU's min and max return the number for any NaN; __float2int_rn rounds half to even, as rintf
  const float clamped = fminf(fmaxf(x, -limit), limit);
  const float q0 = clamped * reciprocal;
  return __float2int_rn(fmaf(fmaf(-scale, q0, clamped), reciprocal, q0));
#else
  const float low = x > -limit ? x : -limit;  // (comparisons, not fmaxf: a signalling NaN must go to -limit too)
  const float clamped = low < limit ? low : limit;
  const float q0 = clamped * reciprocal;
  return int(rintf(fmaf(fmaf(-scale, q0, clamped), reciprocal, q0)));
#endif
}

// Whether quantize_symmetric_clamped gives quantize_symmetric's codes by this scale (its reciprocal and its
// limit 127 x scale finite); checked on the host before a kernel quantizes by it.
inline bool clamped_quantizer_takes(float scale) {
  return scale > 0.0f && std::isfinite(1.0f / scale) && std::isfinite(127.0f * scale);
}

// A pixel sample to [0,1]: 8-bit / 255, 16-bit / 65535.
RESR_HD float unit_from_sample(unsigned sample, int bits) {
  return bits == 16 ? float(sample) / 65535.0f : float(sample) / 255.0f;
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

// Sample k of an output pixel from the model's three planes: the plane itself, or gray (core/gray_from_rgb.h).
RESR_HD unsigned pack_sample(float r, float g, float b, int channels, int k, int bits) {
  const float v = channels >= 3 ? (k == 0 ? r : (k == 1 ? g : b)) : gray_from_rgb(r, g, b);
  return sample_from_unit(v, bits);
}

}  // namespace resr::cuda
