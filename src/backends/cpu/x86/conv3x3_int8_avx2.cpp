// conv3x3_int8_avx2: direct 3x3 convolution with INT8 data on AVX2 without VNNI (the Zen 3 / Haswell class).
// vpmaddubsw's u8 x s8 pair sums saturate at int16, so the exact product is vpmaddwd on int16: a tap's 32-byte
// load (8 flat positions x 4 input channels, the layout of conv3x3_int8.h) is split into its even and odd bytes
// (channels 4g, 4g+2 and 4g+1, 4g+3, zero-extended to int16 by a mask and a shift), and each half is multiplied
// by one broadcast word of two int16 weights (PackedInt8Pairs): 2 vpmaddwd + 2 vpaddd per 8 positions x 4
// channels of one output, twice the multiply-adds of an fp32 FMA per instruction. Register block: 4 output
// channels x 2 ymm of 8 positions = 8 accumulators; the int32 sums stay in registers over all input channels,
// then the dequantizing epilogue (the contract's order, no contraction) stores them into the fp32 planes or, for
// the requantizing variant, the u8 groups. Work split: int8_block_loop.h; oc blocks inside a tile, positions inside.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/int8_block_loop.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

constexpr int kStep = 16;  // flat positions per register block (2 ymm)
constexpr int kOcBlock = kInt8PairsOcBlock;

// The 4 oc x 2 ymm block in inline assembly (with intrinsics gcc 12 spills the accumulators to the stack inside
// the loop): ymm0-7 are the int32 accumulators (output j, vector v in ymm 2j+v), ymm8/9 and ymm10/11 the even and
// odd halves of the tap's 2 input vectors, ymm12 the 0x00FF word mask, ymm13/14 the broadcast even and odd weight
// words, ymm15 the product. NOC < 4 (the last, partial oc block) drops outputs j >= NOC with assembler `.if`s.
#define RESR_OC(T, J, A0, A1)               \
  ".if " #J                                 \
  " < %c[noc]\n\t"                          \
  "vpbroadcastd " #T "*32+" #J              \
  "*8(%[w]), %%ymm13\n\t"                   \
  "vpbroadcastd " #T "*32+" #J              \
  "*8+4(%[w]), %%ymm14\n\t"                 \
  "vpmaddwd %%ymm13, %%ymm8, %%ymm15\n\t"   \
  "vpaddd %%ymm15, %%ymm" #A0 ", %%ymm" #A0 \
  "\n\t"                                    \
  "vpmaddwd %%ymm13, %%ymm10, %%ymm15\n\t"  \
  "vpaddd %%ymm15, %%ymm" #A1 ", %%ymm" #A1 \
  "\n\t"                                    \
  "vpmaddwd %%ymm14, %%ymm9, %%ymm15\n\t"   \
  "vpaddd %%ymm15, %%ymm" #A0 ", %%ymm" #A0 \
  "\n\t"                                    \
  "vpmaddwd %%ymm14, %%ymm11, %%ymm15\n\t"  \
  "vpaddd %%ymm15, %%ymm" #A1 ", %%ymm" #A1 \
  "\n\t"                                    \
  ".endif\n\t"

#define RESR_TAP(ROW, DX, T)            \
  "vmovdqu " #DX "*4+0" ROW             \
  ", %%ymm9\n\t"                        \
  "vmovdqu " #DX "*4+32" ROW            \
  ", %%ymm11\n\t"                       \
  "vpand %%ymm12, %%ymm9, %%ymm8\n\t"   \
  "vpsrlw $8, %%ymm9, %%ymm9\n\t"       \
  "vpand %%ymm12, %%ymm11, %%ymm10\n\t" \
  "vpsrlw $8, %%ymm11, %%ymm11\n\t" RESR_OC(T, 0, 0, 1) RESR_OC(T, 1, 2, 3) RESR_OC(T, 2, 4, 5) RESR_OC(T, 3, 6, 7)

#define RESR_ROW0 "(%[r])"
#define RESR_ROW1 "(%[r],%[p1],1)"
#define RESR_ROW2 "(%[r],%[p2],1)"

#define RESR_ACC_Z(J, A0, A1)                   \
  ".if " #J                                     \
  " < %c[noc]\n\t"                              \
  "vpxor %%ymm" #A0 ", %%ymm" #A0 ", %%ymm" #A0 \
  "\n\t"                                        \
  "vpxor %%ymm" #A1 ", %%ymm" #A1 ", %%ymm" #A1 \
  "\n\t"                                        \
  ".endif\n\t"
#define RESR_ACC_S(J, A0, A1)  \
  ".if " #J                    \
  " < %c[noc]\n\t"             \
  "vmovdqu %%ymm" #A0 ", " #A0 \
  "*32(%[acc])\n\t"            \
  "vmovdqu %%ymm" #A1 ", " #A1 \
  "*32(%[acc])\n\t"            \
  ".endif\n\t"
#define RESR_ACC_ALL(M) M(0, 0, 1) M(1, 2, 3) M(2, 4, 5) M(3, 6, 7)

// acc[(j * 2 + v) * 8 + lane] = sum over `groups` groups and the 9 taps for output j < NOC of the block, position
// src + 8 v + lane (src: group 0 at the block's first position; groups >= 1).
template <int NOC>
void accumulate(const std::uint8_t* src, std::size_t gstride, int pitch, int groups, const std::int32_t* w,
                std::int32_t* acc) {
  const std::uint8_t* r = src - std::ptrdiff_t(pitch) * 4 - 4;
  const std::ptrdiff_t p1 = std::ptrdiff_t(pitch) * 4, p2 = 2 * p1;
  const std::ptrdiff_t gs = std::ptrdiff_t(gstride);
  std::ptrdiff_t n = groups;
  static const std::uint16_t low_bytes[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  static_assert(9 * kOcBlock * 2 * 4 == 288, "weight bytes per group");
  asm volatile(
      "vmovdqu (%[low]), %%ymm12\n\t"
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
      "vzeroupper\n\t"
      : [r] "+r"(r), [w] "+r"(w), [n] "+r"(n)
      : [p1] "r"(p1), [p2] "r"(p2), [gs] "r"(gs), [acc] "r"(acc), [low] "r"(low_bytes), [noc] "i"(NOC)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

#undef RESR_OC
#undef RESR_TAP
#undef RESR_ROW0
#undef RESR_ROW1
#undef RESR_ROW2
#undef RESR_ACC_Z
#undef RESR_ACC_S
#undef RESR_ACC_ALL

using AccumulateFn = void (*)(const std::uint8_t*, std::size_t, int, int, const std::int32_t*, std::int32_t*);

AccumulateFn accumulate_fn(int noc) {
  switch (noc) {
    case 1:
      return accumulate<1>;
    case 2:
      return accumulate<2>;
    case 3:
      return accumulate<3>;
    default:
      return accumulate<4>;
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
  __m256i corr;
  __m256 scale, bias, slope;
};

inline Channel channel(const StoreArgs& a, int o) {
  return {_mm256_set1_epi32(a.k->corr[o]), _mm256_set1_ps(a.k->scale[o]), _mm256_set1_ps(a.k->bias[o]),
          _mm256_set1_ps(a.k->slope[o])};
}

// Lanes of the (up to) 2 vectors of a block at p: `live` below `end` (all ones / zeros per lane: positions at or
// past it are neither read nor written), `interior` off the ring columns. Returns the vectors with live lanes.
inline int block_masks(int p, const StoreArgs& a, __m256i live[2], __m256i interior[2]) {
  const Int8Span& s = *a.span;
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int nv = 0;
  for (int v = 0; v < 2; ++v, ++nv) {
    const int q = p + 8 * v;
    const int left = s.end - q;
    if (left <= 0) break;
    live[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lanes);
    interior[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.ring_mask.data() + q % s.pitch));
  }
  return nv;
}

// Masked moves only where a vector has dead lanes (the block at `end`): they are slow on AMD (masked stores are
// microcoded there).
inline bool all_live(__m256i live) {
  return _mm256_movemask_ps(_mm256_castsi256_ps(live)) == 0xFF;
}

inline __m256 load_live(const float* p, __m256i live) {
  return all_live(live) ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, live);
}

// The fp32 result of 8 sums of one output channel, in the contract's order (conv3x3_int8.h). `res`: the residual
// at these positions or null; lanes outside `live` are not read.
inline __m256 result(__m256i sum, const Channel& c, const float* res, __m256i live, const StoreArgs& a) {
  __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sum, c.corr)), c.scale);
  x = _mm256_add_ps(x, c.bias);
  if (a.ep->act != Activation::kNone)
    x = _mm256_blendv_ps(x, _mm256_mul_ps(x, c.slope), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  if (a.ep->out_scale != 1.0f) x = _mm256_mul_ps(x, _mm256_set1_ps(a.ep->out_scale));
  if (res != nullptr) x = _mm256_add_ps(x, _mm256_mul_ps(_mm256_set1_ps(a.ep->residual_scale), load_live(res, live)));
  return x;
}

// Epilogue of `noc` outputs starting at output o0 (planes out0, residual res0 or null) for positions p .. p + 15;
// ring columns are written as zeros.
void store_f32(const std::int32_t* acc, int o0, int noc, float* out0, const float* res0, int p, const StoreArgs& a) {
  __m256i live[2], interior[2];
  const int nv = block_masks(p, a, live, interior);
  const std::size_t stride = a.span->stride;
  for (int j = 0; j < noc; ++j) {
    const Channel c = channel(a, o0 + j);
    float* dst = out0 + j * stride + p;
    const float* res = res0 != nullptr ? res0 + j * stride + p : nullptr;
    for (int v = 0; v < nv; ++v) {
      const __m256i sum = _mm256_load_si256(reinterpret_cast<const __m256i*>(acc + j * 16 + 8 * v));
      __m256 x = result(sum, c, res != nullptr ? res + 8 * v : nullptr, live[v], a);
      x = _mm256_and_ps(x, _mm256_castsi256_ps(interior[v]));
      if (all_live(live[v]))
        _mm256_storeu_ps(dst + 8 * v, x);
      else
        _mm256_maskstore_ps(dst + 8 * v, live[v], x);
    }
  }
}

// The same results quantized (as the quantizers do: divide, clamp with NaN -> lo, round half to even, add the zero
// point) into the u8 layout: 4 outputs per dword, ring columns the group's pad word.
void store_u8(const std::int32_t* acc, int o0, int noc, const float* res0, int p, const StoreArgs& a) {
  const U8Quant& uq = a.qout->quant;
  const __m256 scale = _mm256_set1_ps(uq.scale);
  const __m256 lo = _mm256_set1_ps(float(uq.qmin - uq.zero)), hi = _mm256_set1_ps(float(255 - uq.zero));
  const __m256i zero = _mm256_set1_epi32(uq.zero);
  const std::size_t stride = a.span->stride;
  __m256i live[2], interior[2];
  const int nv = block_masks(p, a, live, interior);
  // o0 is a multiple of 4 (kOcBlock), so the block's outputs are the channels of one u8 group.
  const int g = o0 / 4;
  Channel c[kOcBlock];
  for (int j = 0; j < noc; ++j) c[j] = channel(a, o0 + j);
  const __m256i pad = _mm256_set1_epi32(quantized_pad_word(*a.qout, g));
  for (int v = 0; v < nv; ++v) {
    const int q = p + 8 * v;
    __m256i word = _mm256_setzero_si256();
    for (int j = 0; j < noc; ++j) {
      const __m256i sum = _mm256_load_si256(reinterpret_cast<const __m256i*>(acc + j * 16 + 8 * v));
      __m256 x = result(sum, c[j], res0 != nullptr ? res0 + j * stride + q : nullptr, live[v], a);
      x = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(x, scale), lo), hi);
      const __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(x), zero);
      word = _mm256_or_si256(word, _mm256_slli_epi32(b, 8 * j));
    }
    word = _mm256_blendv_epi8(pad, word, interior[v]);
    auto* dst = reinterpret_cast<int*>(a.qout->group(g) + std::size_t(q) * 4);
    if (all_live(live[v]))
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), word);
    else
      _mm256_maskstore_epi32(dst, live[v], word);
  }
}

// Both variants: fp32 planes `out` (qout null) or `qout`; the geometry is `in`'s (checked equal by the callers).
void run(const PackedConv3x3Int8& w, const PackedInt8Pairs& pairs, const QuantizedPlanes& in, const PaddedPlanes& out,
         const ConvEpilogue& ep, const QuantizedPlanes* qout) {
  RESR_ASSERT(pairs.ic == w.ic && pairs.oc == w.oc);
  if (in.geo.h == 0 || in.geo.w == 0) return;
  const Int8Span span = int8_span(in.geo, 8);
  // The last block's tap reads reach position (end - 1) + (kStep - 1) + pitch + 1 = (h + 2) * pitch + kStep - 2,
  // inside the group plane's (h + 2) * pitch + kSlack positions.
  static_assert(kStep - 2 < PaddedGeometry::kSlack);
  const Int8EpilogueConsts consts = int8_epilogue_consts(w, in.quant, ep);
  const StoreArgs sa{&span, &ep, &consts, qout};
  const int groups = pairs.groups(), oc = w.oc, nblocks = pairs.oc_blocks();
  const std::size_t gstride = in.group_stride();
  const std::size_t wblock = std::size_t(groups) * 9 * kOcBlock * 2;  // int32 words per oc block

  for_each_int8_tile(span, kStep, std::size_t(w.ic) * oc, [&](int p0, int p1) {
    alignas(32) std::int32_t acc[kOcBlock * kStep];
    // oc blocks outside, as the VNNI kernel: each plane is written in one sequential run per tile, and the
    // tile's input is re-read per oc block from L2.
    for (int b = 0; b < nblocks; ++b) {
      const int oc0 = b * kOcBlock, noc = std::min(kOcBlock, oc - oc0);
      const AccumulateFn fn = accumulate_fn(noc);
      const std::int32_t* wb = pairs.words() + b * wblock;
      const float* res0 = ep.residual != nullptr ? ep.residual->plane(oc0) : nullptr;
      for (int p = p0; p < p1; p += kStep) {
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

void conv3x3_int8_avx2(const PackedConv3x3Int8& w, const PackedInt8Pairs& pairs, const QuantizedPlanes& in,
                       const PaddedPlanes& out, const ConvEpilogue& ep) {
  check_conv3x3_int8_args(w, in, out, ep);
  run(w, pairs, in, out, ep, nullptr);
}

void conv3x3_int8_avx2(const PackedConv3x3Int8& w, const PackedInt8Pairs& pairs, const QuantizedPlanes& in,
                       const ConvEpilogue& ep, const QuantizedPlanes& qout) {
  check_conv3x3_int8_args(w, in, ep, qout);
  run(w, pairs, in, PaddedPlanes{}, ep, &qout);
}

}  // namespace resr::cpu
