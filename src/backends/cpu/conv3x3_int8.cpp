// conv3x3_int8: weight quantization and packing, the portable input quantizer, argument checks, the VNNI CPU
// check and the portable kernel (per output channel: int32 sums over groups x taps of 4-byte dot products on the
// quantized planes, then the dequantizing epilogue).
#include "backends/cpu/conv3x3_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <omp.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/status.h"
#include "ir/int8_weight.h"

namespace resr::cpu {

namespace {

// The u8 encoding of one value of a channel divided by `divisor` (U8Quant::divisor). The clamps are written as x86
// maxps/minps behave (NaN -> the bound) so that the SIMD quantizers give the same bytes for every input.
inline std::uint8_t quantize_one(float x, float divisor, float lo, float hi, int zero) {
  float v = x / divisor;
  v = v > lo ? v : lo;
  v = v < hi ? v : hi;
  return static_cast<std::uint8_t>(static_cast<int>(std::nearbyint(v)) + zero);
}

}  // namespace

PackedConv3x3Int8 pack_conv3x3_int8(const float* weights, const float* weight_scales, int oc, int ic) {
  RESR_ASSERT(oc > 0 && ic > 0 && ic <= 7000 && weights != nullptr && weight_scales != nullptr);
  PackedConv3x3Int8 p;
  p.ic = ic;
  p.oc = oc;
  const std::size_t bytes = std::size_t(p.oc_blocks()) * p.groups() * 9 * kInt8OcBlock * 4;
  p.storage = AlignedBuffer(bytes / 4);  // zero-filled: padded outputs and inputs have weight 0
  p.scales.assign(weight_scales, weight_scales + oc);
  p.sums.assign(oc, 0);
  auto* dst = reinterpret_cast<std::int8_t*>(p.storage.data());
  for (int o = 0; o < oc; ++o) {
    RESR_ASSERT(weight_scales[o] > 0.0f);
    for (int i = 0; i < ic; ++i) {
      for (int t = 0; t < 9; ++t) {
        const std::int8_t q = ir::quantize_weight(weights[(std::size_t(o) * ic + i) * 9 + t], weight_scales[o]);
        const std::size_t b = std::size_t(o / kInt8OcBlock), g = std::size_t(i / 4);
        dst[(((b * p.groups() + g) * 9 + t) * kInt8OcBlock + o % kInt8OcBlock) * 4 + i % 4] = q;
        p.sums[o] += q;
      }
    }
  }
  return p;
}

PackedInt8Pairs widen_conv3x3_int8_pairs(const PackedConv3x3Int8& w) {
  PackedInt8Pairs p;
  p.ic = w.ic;
  p.oc = w.oc;
  const int groups = p.groups();
  p.storage = AlignedBuffer(std::size_t(p.oc_blocks()) * groups * 9 * kInt8PairsOcBlock * 2);  // zero: padding
  auto* dst = reinterpret_cast<std::int32_t*>(p.storage.data());
  for (int o = 0; o < w.oc; ++o) {
    const std::size_t b = std::size_t(o / kInt8PairsOcBlock);
    for (int g = 0; g < groups; ++g) {
      for (int t = 0; t < 9; ++t) {
        for (int odd = 0; odd < 2; ++odd) {
          const int lo = 4 * g + odd, hi = lo + 2;  // padding inputs (>= ic) hold 0 in w
          const auto wl = std::uint16_t(std::int16_t(w.at(o, lo, t)));
          const auto wh = std::uint16_t(std::int16_t(w.at(o, hi, t)));
          dst[(((b * groups + g) * 9 + t) * kInt8PairsOcBlock + o % kInt8PairsOcBlock) * 2 + odd] =
              std::int32_t(std::uint32_t(wl) | std::uint32_t(wh) << 16);
        }
      }
    }
  }
  return p;
}

void quantize_planes_u8_generic(const PaddedPlanes& in, const QuantizedPlanes& out) {
  RESR_ASSERT(in.channels == out.channels && in.geo.h == out.geo.h && in.geo.w == out.geo.w);
  const U8Quant q = out.quant;
  const float lo = float(q.qmin - q.zero), hi = float(255 - q.zero);
  const int rows = out.geo.h + 2, pitch = out.geo.pitch();
  const int groups = out.groups();
  const std::size_t tail = out.group_stride() - std::size_t(rows) * pitch * 4;  // slack and alignment bytes
#pragma omp parallel for collapse(2) schedule(static)
  for (int g = 0; g < groups; ++g) {
    for (int y = 0; y < rows; ++y) {
      std::uint8_t* dst = out.group(g) + std::size_t(y) * pitch * 4;
      for (int k = 0; k < 4; ++k) {
        const int c = 4 * g + k;
        if (c >= in.channels) {
          for (int x = 0; x < pitch; ++x) dst[4 * x + k] = 0;
          continue;
        }
        const float* src = in.plane(c) + std::size_t(y) * pitch;
        const float d = q.divisor(c);
        for (int x = 0; x < pitch; ++x) dst[4 * x + k] = quantize_one(src[x], d, lo, hi, q.zero);
      }
      if (y == rows - 1) {
        std::uint8_t* end = out.group(g) + std::size_t(rows) * pitch * 4;
        for (std::size_t b = 0; b < tail; ++b) end[b] = (4 * g + int(b % 4) < in.channels) ? q.zero : 0;
      }
    }
  }
}

bool cpu_has_avx512_vnni() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return cpu_has_avx512f() && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

bool cpu_has_avx_vnni() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  // CPUID leaf 7, sub-leaf 1, EAX bit 4 (read directly: clang's __builtin_cpu_supports does not know "avxvnni").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return cpu_has_avx2_fma() && (eax & (1u << 4)) != 0;
#else
  return false;
#endif
}

bool cpu_has_fast_int8() {
  return cpu_has_avx512_vnni() || cpu_has_avx_vnni();
}

namespace {

void check_common(const PackedConv3x3Int8& w, const QuantizedPlanes& in, int out_channels, const PaddedGeometry& geo,
                  const ConvEpilogue& ep) {
  RESR_ASSERT(in.channels == w.ic && out_channels == w.oc);
  RESR_ASSERT(in.geo.h == geo.h && in.geo.w == geo.w);
  RESR_ASSERT(in.data != nullptr && in.quant.zero >= 0 && in.quant.zero <= 255 && in.quant.scale > 0.0f);
  RESR_ASSERT(ep.act != Activation::kPrelu || ep.prelu_slopes != nullptr);
  if (ep.residual != nullptr) {
    const PaddedPlanes& r = *ep.residual;
    RESR_ASSERT(r.channels == w.oc && r.geo.h == geo.h && r.geo.w == geo.w);
  }
}

}  // namespace

void check_conv3x3_int8_args(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                             const ConvEpilogue& ep) {
  check_common(w, in, out.channels, out.geo, ep);
  if (ep.residual != nullptr) RESR_ASSERT(ep.residual->data == out.data || !planes_overlap(*ep.residual, out));
}

Int8EpilogueConsts int8_epilogue_consts(const PackedConv3x3Int8& w, const U8Quant& q, const ConvEpilogue& ep) {
  const int n = w.oc_blocks() * kInt8OcBlock;
  Int8EpilogueConsts c;
  c.scale.assign(n, 0.0f);
  c.bias.assign(n, 0.0f);
  c.slope.assign(n, 1.0f);
  c.corr.assign(n, 0);
  for (int o = 0; o < w.oc; ++o) {
    c.scale[o] = q.scale * w.scales[o];
    c.corr[o] = q.zero * w.sums[o];
    if (ep.bias != nullptr) c.bias[o] = ep.bias[o];
    if (ep.act == Activation::kLeakyRelu) c.slope[o] = ep.leaky_slope;
    if (ep.act == Activation::kPrelu) c.slope[o] = ep.prelu_slopes[o];
  }
  return c;
}

std::int32_t quantized_pad_word(const QuantizedPlanes& q, int g) {
  std::int32_t pad = 0;
  for (int k = 0; k < 4 && 4 * g + k < q.channels; ++k) pad |= q.quant.zero << (8 * k);
  return pad;
}

void check_conv3x3_int8_args(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                             const QuantizedPlanes& qout) {
  check_common(w, in, qout.channels, qout.geo, ep);
  RESR_ASSERT(qout.data != nullptr && qout.quant.zero >= 0 && qout.quant.zero <= 255 && qout.quant.scale > 0.0f);
  RESR_ASSERT(in.data + in.groups() * in.group_stride() <= qout.data ||
              qout.data + qout.groups() * qout.group_stride() <= in.data);
}

namespace {

// The portable kernel: per output channel o (OpenMP over o), the int32 sums, then the epilogue of the contract
// into a dense h x w float buffer handed to sink(o, values).
template <class Sink>
void generic_kernel(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep, int h, int wd,
                    const Sink& sink) {
  const int pitch = in.geo.pitch();
  const Int8EpilogueConsts k = int8_epilogue_consts(w, in.quant, ep);
  const bool act = ep.act != Activation::kNone;
  // Per-thread buffers, allocated here: std::bad_alloc thrown inside the parallel region would end the process,
  // while on this thread the caller can catch it (and retry with smaller tiles).
  const std::size_t teams = std::size_t(std::max(1, omp_get_max_threads()));
  std::vector<std::vector<std::int32_t>> sums(teams, std::vector<std::int32_t>(std::size_t(h) * wd));
  std::vector<std::vector<float>> results(teams, std::vector<float>(std::size_t(h) * wd));
#pragma omp parallel
  {
    std::vector<std::int32_t>& acc = sums[std::size_t(omp_get_thread_num()) % teams];
    std::vector<float>& res = results[std::size_t(omp_get_thread_num()) % teams];
#pragma omp for schedule(static)
    for (int o = 0; o < w.oc; ++o) {
      std::fill(acc.begin(), acc.end(), 0);
      for (int g = 0; g < w.groups(); ++g) {
        for (int t = 0; t < 9; ++t) {
          // NOLINTNEXTLINE(bugprone-signed-char-misuse): int8 weights, sign extension intended
          const int w0 = w.at(o, 4 * g, t), w1 = w.at(o, 4 * g + 1, t), w2 = w.at(o, 4 * g + 2, t),
                    w3 = w.at(o, 4 * g + 3, t);  // NOLINT(bugprone-signed-char-misuse)
          const int ky = t / 3, kx = t % 3;
          for (int y = 0; y < h; ++y) {
            const std::uint8_t* s = in.group(g) + (std::size_t(y + ky) * pitch + kx) * 4;  // tap of (y, 0)
            std::int32_t* a = acc.data() + std::size_t(y) * wd;
            for (int x = 0; x < wd; ++x)
              a[x] += s[4 * x] * w0 + s[4 * x + 1] * w1 + s[4 * x + 2] * w2 + s[4 * x + 3] * w3;
          }
        }
      }
      const float* r = ep.residual != nullptr ? ep.residual->plane(o) : nullptr;
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < wd; ++x) {
          float v = float(acc[std::size_t(y) * wd + x] - k.corr[o]) * k.scale[o];
          v = v + k.bias[o];
          if (act && v < 0.0f) v = v * k.slope[o];
          v = v * ep.out_scale;
          if (r != nullptr) v = v + ep.residual_scale * r[std::size_t(y + 1) * pitch + x + 1];
          res[std::size_t(y) * wd + x] = v;
        }
      }
      sink(o, res);
    }
  }
}

}  // namespace

void conv3x3_int8_generic(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                          const ConvEpilogue& ep) {
  check_conv3x3_int8_args(w, in, out, ep);
  const int h = out.geo.h, wd = out.geo.w, pitch = out.geo.pitch();
  if (h == 0 || wd == 0) return;
  const std::size_t stride = out.geo.plane_stride();
  generic_kernel(w, in, ep, h, wd, [&](int o, const std::vector<float>& res) {
    // Only now overwrite the plane: the residual may be this very plane.
    float* dst = out.plane(o);
    std::memset(dst, 0, stride * sizeof(float));
    for (int y = 0; y < h; ++y)
      std::memcpy(dst + std::size_t(y + 1) * pitch + 1, res.data() + std::size_t(y) * wd, wd * sizeof(float));
  });
}

void conv3x3_int8_generic(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                          const QuantizedPlanes& qout) {
  check_conv3x3_int8_args(w, in, ep, qout);
  const int h = qout.geo.h, wd = qout.geo.w, pitch = qout.geo.pitch();
  if (h == 0 || wd == 0) return;
  const U8Quant q = qout.quant;
  const float lo = float(q.qmin - q.zero), hi = float(255 - q.zero);
  const std::size_t positions = qout.group_stride() / 4;
  // Distinct threads write distinct bytes (channels) of the same words.
  generic_kernel(w, in, ep, h, wd, [&](int o, const std::vector<float>& res) {
    std::uint8_t* dst = qout.group(o / 4) + o % 4;
    const float d = q.divisor(o);
    for (std::size_t p = 0; p < positions; ++p) dst[4 * p] = std::uint8_t(q.zero);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < wd; ++x)
        dst[4 * ((std::size_t(y) + 1) * pitch + x + 1)] = quantize_one(res[std::size_t(y) * wd + x], d, lo, hi, q.zero);
  });
  for (int c = w.oc; c < qout.groups() * 4; ++c) {  // padding channels of the last group
    std::uint8_t* dst = qout.group(c / 4) + c % 4;
    for (std::size_t p = 0; p < positions; ++p) dst[4 * p] = 0;
  }
}

}  // namespace resr::cpu
