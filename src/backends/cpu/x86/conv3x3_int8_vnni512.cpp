// conv3x3_int8_vnni512: direct 3x3 convolution with AVX-512 VNNI (vpdpbusd: 16 lanes x 4 u8*s8 products summed
// into int32) on the layout of conv3x3_int8.h. A lane is one flat position of one output channel, and its 4
// bytes are 4 input channels: a tap is one unaligned 64-byte load of 16 positions at a fixed offset
// (dy-1)*pitch + (dx-1), like the fp32 direct kernels. Register block: 8 output channels x 3 zmm of 16 positions
// = 24 accumulators; per input group and tap, 3 loads + 8 weight-word broadcasts + 24 vpdpbusd. The int32 sums
// of a block stay in registers over all input channels, then the dequantizing epilogue stores them straight
// into the planar fp32 output (ring columns and positions past the last row masked). Work split: int8_block_loop.h
// (OpenMP over flat tiles of ~1k positions); inside a tile, oc blocks outside, positions inside.
// gcc 12 warns -Wmaybe-uninitialized inside the headers' _mm512_undefined_* (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/int8_block_loop.h"

namespace resr::cpu {
namespace {

constexpr int kStep = 48;  // flat positions per register block (3 zmm)

// The 8 oc x 3 zmm block in inline assembly (with intrinsics gcc 12 shuffles accumulators between registers
// inside the loop): zmm0-23 are the int32 accumulators (output j, vector v in zmm 3j+v), zmm24-26 the 3 input
// vectors of a tap, zmm27/28 the broadcast weight words (alternating). NOC < 8 (the last, partial oc block) drops
// outputs j >= NOC with assembler `.if`s on the immediate %c[noc].
#define RESR_OC(T, J, B, A0, A1, A2)                \
  ".if " #J                                         \
  " < %c[noc]\n\t"                                  \
  "vpbroadcastd " #T "*32+" #J "*4(%[w]), %%zmm" #B \
  "\n\t"                                            \
  "vpdpbusd %%zmm" #B ", %%zmm24, %%zmm" #A0        \
  "\n\t"                                            \
  "vpdpbusd %%zmm" #B ", %%zmm25, %%zmm" #A1        \
  "\n\t"                                            \
  "vpdpbusd %%zmm" #B ", %%zmm26, %%zmm" #A2        \
  "\n\t"                                            \
  ".endif\n\t"

#define RESR_TAP(ROW, DX, T)                                                                          \
  "vmovdqu64 " #DX "*4+0" ROW                                                                         \
  ", %%zmm24\n\t"                                                                                     \
  "vmovdqu64 " #DX "*4+64" ROW                                                                        \
  ", %%zmm25\n\t"                                                                                     \
  "vmovdqu64 " #DX "*4+128" ROW ", %%zmm26\n\t" RESR_OC(T, 0, 27, 0, 1, 2) RESR_OC(T, 1, 28, 3, 4, 5) \
      RESR_OC(T, 2, 27, 6, 7, 8) RESR_OC(T, 3, 28, 9, 10, 11) RESR_OC(T, 4, 27, 12, 13, 14)           \
          RESR_OC(T, 5, 28, 15, 16, 17) RESR_OC(T, 6, 27, 18, 19, 20) RESR_OC(T, 7, 28, 21, 22, 23)

#define RESR_ROW0 "(%[r])"
#define RESR_ROW1 "(%[r],%[p1],1)"
#define RESR_ROW2 "(%[r],%[p2],1)"

#define RESR_ACC_Z(J, A0, A1, A2)                \
  ".if " #J                                      \
  " < %c[noc]\n\t"                               \
  "vpxord %%zmm" #A0 ", %%zmm" #A0 ", %%zmm" #A0 \
  "\n\t"                                         \
  "vpxord %%zmm" #A1 ", %%zmm" #A1 ", %%zmm" #A1 \
  "\n\t"                                         \
  "vpxord %%zmm" #A2 ", %%zmm" #A2 ", %%zmm" #A2 \
  "\n\t"                                         \
  ".endif\n\t"
#define RESR_ACC_S(J, A0, A1, A2) \
  ".if " #J                       \
  " < %c[noc]\n\t"                \
  "vmovdqu64 %%zmm" #A0 ", " #A0  \
  "*64(%[acc])\n\t"               \
  "vmovdqu64 %%zmm" #A1 ", " #A1  \
  "*64(%[acc])\n\t"               \
  "vmovdqu64 %%zmm" #A2 ", " #A2  \
  "*64(%[acc])\n\t"               \
  ".endif\n\t"
#define RESR_ACC_ALL(M) \
  M(0, 0, 1, 2)         \
  M(1, 3, 4, 5) M(2, 6, 7, 8) M(3, 9, 10, 11) M(4, 12, 13, 14) M(5, 15, 16, 17) M(6, 18, 19, 20) M(7, 21, 22, 23)

// acc[(j * 3 + v) * 16 + lane] = sum over all `groups` groups and the 9 taps for output j < NOC of the block,
// position src + 16 v + lane (src: group 0 at the block's first position; groups >= 1).
template <int NOC>
void accumulate(const std::uint8_t* src, std::size_t gstride, int pitch, int groups, const std::int8_t* w,
                std::int32_t* acc) {
  const std::uint8_t* r = src - std::ptrdiff_t(pitch) * 4 - 4;
  const std::ptrdiff_t p1 = std::ptrdiff_t(pitch) * 4, p2 = 2 * p1;
  const std::ptrdiff_t gs = std::ptrdiff_t(gstride);
  std::ptrdiff_t n = groups;
  static_assert(9 * kInt8OcBlock * 4 == 288, "weight bytes per group");
  asm volatile(
      RESR_ACC_ALL(RESR_ACC_Z)
      ".p2align 5\n"
      "1:\n\t"
      RESR_TAP(RESR_ROW0, 0, 0) RESR_TAP(RESR_ROW0, 1, 1) RESR_TAP(RESR_ROW0, 2, 2)
      RESR_TAP(RESR_ROW1, 0, 3) RESR_TAP(RESR_ROW1, 1, 4) RESR_TAP(RESR_ROW1, 2, 5)
      RESR_TAP(RESR_ROW2, 0, 6) RESR_TAP(RESR_ROW2, 1, 7) RESR_TAP(RESR_ROW2, 2, 8)
      "add %[gs], %[r]\n\t"
      "add $288, %[w]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      RESR_ACC_ALL(RESR_ACC_S)
      : [r] "+r"(r), [w] "+r"(w), [n] "+r"(n)
      : [p1] "r"(p1), [p2] "r"(p2), [gs] "r"(gs), [acc] "r"(acc), [noc] "i"(NOC)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28");
}

#undef RESR_OC
#undef RESR_TAP
#undef RESR_ROW0
#undef RESR_ROW1
#undef RESR_ROW2
#undef RESR_ACC_Z
#undef RESR_ACC_S
#undef RESR_ACC_ALL

using AccumulateFn = void (*)(const std::uint8_t*, std::size_t, int, int, const std::int8_t*, std::int32_t*);

AccumulateFn accumulate_fn(int noc) {
  switch (noc) {
    case 1:
      return accumulate<1>;
    case 2:
      return accumulate<2>;
    case 3:
      return accumulate<3>;
    case 4:
      return accumulate<4>;
    case 5:
      return accumulate<5>;
    case 6:
      return accumulate<6>;
    case 7:
      return accumulate<7>;
    default:
      return accumulate<8>;
  }
}

struct StoreArgs {
  const Int8Span* span;
  const ConvEpilogue* ep;
  const Int8EpilogueConsts* k;
  const QuantizedPlanes* qout;  // requantizing variant, else null
};

// Per output channel constants of the epilogue, broadcast.
struct Channel {
  __m512i corr;
  __m512 scale, bias, slope;
};

inline Channel channel(const StoreArgs& a, int o) {
  return {_mm512_set1_epi32(a.k->corr[o]), _mm512_set1_ps(a.k->scale[o]), _mm512_set1_ps(a.k->bias[o]),
          _mm512_set1_ps(a.k->slope[o])};
}

// The fp32 result of 16 sums of one output channel, in the order of the contract (conv3x3_int8.h). `res`: the
// residual at these positions or null; lanes outside `live` are not read.
inline __m512 result(__m512i sum, const Channel& c, const float* res, __mmask16 live, const StoreArgs& a) {
  __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sum, c.corr)), c.scale);
  x = _mm512_add_ps(x, c.bias);
  if (a.ep->act != Activation::kNone)
    x = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x, c.slope);
  if (a.ep->out_scale != 1.0f) x = _mm512_mul_ps(x, _mm512_set1_ps(a.ep->out_scale));
  if (res != nullptr)
    x = _mm512_add_ps(x, _mm512_mul_ps(_mm512_set1_ps(a.ep->residual_scale), _mm512_maskz_loadu_ps(live, res)));
  return x;
}

// Masks of the (up to) 3 vectors of a block at p: `live` below `end` (positions at or past it are neither read nor
// written), `interior` off the ring columns. Returns the number of vectors with live lanes.
inline int block_masks(int p, const StoreArgs& a, __mmask16 live[3], __mmask16 interior[3]) {
  const Int8Span& s = *a.span;
  int nv = 0;
  for (int v = 0; v < 3; ++v, ++nv) {
    const int q = p + 16 * v;
    const int left = s.end - q;
    if (left <= 0) break;
    live[v] = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    const __m512i ring = _mm512_loadu_si512(s.ring_mask.data() + q % s.pitch);
    interior[v] = _mm512_test_epi32_mask(ring, ring);
  }
  return nv;
}

// Epilogue of `noc` outputs starting at output o0 (planes out0, residual res0 or null) for positions p .. p + 47;
// ring columns are written as zeros. Channels outside (their broadcasts once per block: +2 points of peak).
void store_f32(const std::int32_t* acc, int o0, int noc, float* out0, const float* res0, int p, const StoreArgs& a) {
  __mmask16 live[3], interior[3];
  const int nv = block_masks(p, a, live, interior);
  const std::size_t stride = a.span->stride;
  for (int j = 0; j < noc; ++j) {
    const Channel c = channel(a, o0 + j);
    float* dst = out0 + j * stride + p;
    const float* res = res0 != nullptr ? res0 + j * stride + p : nullptr;
    for (int v = 0; v < nv; ++v) {
      const __m512 x =
          result(_mm512_loadu_si512(acc + (j * 3 + v) * 16), c, res != nullptr ? res + 16 * v : nullptr, live[v], a);
      _mm512_mask_storeu_ps(dst + 16 * v, live[v], _mm512_maskz_mov_ps(interior[v], x));
    }
  }
}

// The same results quantized (as quantize_planes_u8_avx512 does: divide by the channel's divisor, clamp with NaN ->
// lo, round half to even, add the zero point) into the u8 layout: 4 outputs per dword, ring columns the group's pad
// word.
void store_u8(const std::int32_t* acc, int o0, int noc, const float* res0, int p, const StoreArgs& a) {
  const U8Quant& uq = a.qout->quant;
  const __m512 lo = _mm512_set1_ps(float(uq.qmin - uq.zero)), hi = _mm512_set1_ps(float(255 - uq.zero));
  const __m512i zero = _mm512_set1_epi32(uq.zero);
  __mmask16 live[3], interior[3];
  const int nv = block_masks(p, a, live, interior);
  for (int j0 = 0; j0 < noc; j0 += 4) {
    const int g = (o0 + j0) / 4, nj = std::min(noc - j0, 4);
    Channel c[4];
    __m512 divisor[4];
    for (int j = 0; j < nj; ++j) {
      c[j] = channel(a, o0 + j0 + j);
      divisor[j] = _mm512_set1_ps(uq.divisor(o0 + j0 + j));
    }
    const __m512i pad = _mm512_set1_epi32(quantized_pad_word(*a.qout, g));
    for (int v = 0; v < nv; ++v) {
      const int q = p + 16 * v;
      __m512i word = _mm512_setzero_si512();
      for (int j = 0; j < nj; ++j) {
        const int jj = j0 + j;
        __m512 x = result(_mm512_loadu_si512(acc + (jj * 3 + v) * 16), c[j],
                          res0 != nullptr ? res0 + jj * a.span->stride + q : nullptr, live[v], a);
        x = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x, divisor[j]), lo), hi);
        const __m512i b = _mm512_add_epi32(_mm512_cvtps_epi32(x), zero);
        word = _mm512_or_si512(word, _mm512_slli_epi32(b, 8 * j));
      }
      word = _mm512_mask_mov_epi32(pad, interior[v], word);
      _mm512_mask_storeu_epi32(a.qout->group(g) + std::size_t(q) * 4, live[v], word);
    }
  }
}

// Prefetches for writing the output lines of the block at p (fp32 planes or u8 groups): stores that miss wait for
// their lines, which costs most at large sizes (measured +2-4 points of peak at 64->64 256x256, noise at 128x128).
inline void prefetch_output(const PaddedPlanes& out, const QuantizedPlanes* qout, int oc0, int noc, int p) {
  if (qout != nullptr) {
    for (int j0 = 0; j0 < noc; j0 += 4) {
      const auto* l = reinterpret_cast<const char*>(qout->group((oc0 + j0) / 4) + std::size_t(p) * 4);
      for (int k = 0; k < 4; ++k) _mm_prefetch(l + 64 * k, _MM_HINT_ET0);
    }
    return;
  }
  for (int j = 0; j < noc; ++j) {
    const auto* l = reinterpret_cast<const char*>(out.plane(oc0 + j) + p);
    for (int k = 0; k < 4; ++k) _mm_prefetch(l + 64 * k, _MM_HINT_ET0);
  }
}

// Both variants: fp32 planes `out` (qout null) or `qout`; the geometry is `in`'s (checked equal by the callers).
void run(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep,
         const QuantizedPlanes* qout) {
  if (in.geo.h == 0 || in.geo.w == 0) return;
  const Int8Span span = int8_span(in.geo, 16);
  // The last block's tap reads reach position (end - 1) + (kStep - 1) + pitch + 1 = (h + 2) * pitch + kStep - 2,
  // inside the group plane's (h + 2) * pitch + kSlack positions.
  static_assert(kStep - 2 < PaddedGeometry::kSlack);
  const Int8EpilogueConsts consts = int8_epilogue_consts(w, in.quant, ep);
  const StoreArgs sa{&span, &ep, &consts, qout};
  const int groups = w.groups(), oc = w.oc, nblocks = w.oc_blocks();
  const std::size_t gstride = in.group_stride();
  const std::size_t wblock = std::size_t(groups) * 9 * kInt8OcBlock * 4;  // bytes per oc block

  for_each_int8_tile(span, kStep, std::size_t(w.ic) * oc, [&](int p0, int p1) {
    alignas(64) std::int32_t acc[kInt8OcBlock * kStep];
    // oc blocks outside: each plane is written in one sequential run per tile (measured +10 points of peak at
    // 256x256 over blocks outside, where 8 x 3 scattered vectors per block missed in cache); the tile's input
    // (~100 KB) is re-read per oc block from L2.
    for (int b = 0; b < nblocks; ++b) {
      const int oc0 = b * kInt8OcBlock, noc = std::min(kInt8OcBlock, oc - oc0);
      const AccumulateFn fn = accumulate_fn(noc);
      const std::int8_t* wb = w.weights() + b * wblock;
      const float* res0 = ep.residual != nullptr ? ep.residual->plane(oc0) : nullptr;
      for (int p = p0; p < p1; p += kStep) {
        prefetch_output(out, qout, oc0, noc, p + kStep);
        fn(in.data + std::size_t(p) * 4, gstride, span.pitch, groups, wb, acc);
        if (qout != nullptr)
          store_u8(acc, oc0, noc, res0, p, sa);
        else
          store_f32(acc, oc0, noc, out.plane(oc0), res0, p, sa);
      }
    }
  });
  finish_outside_span(span, out, qout, oc);
}

}  // namespace

void conv3x3_int8_vnni512(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                          const ConvEpilogue& ep) {
  check_conv3x3_int8_args(w, in, out, ep);
  run(w, in, out, ep, nullptr);
}

void conv3x3_int8_vnni512(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                          const QuantizedPlanes& qout) {
  check_conv3x3_int8_args(w, in, ep, qout);
  run(w, in, PaddedPlanes{}, ep, &qout);
}

}  // namespace resr::cpu
