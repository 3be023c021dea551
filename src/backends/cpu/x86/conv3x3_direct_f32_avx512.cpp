// conv3x3_direct_f32_avx512: the AVX-512 sibling of conv3x3_direct_f32_avx2 (same flat-index scheme: the 9 taps
// of a 3x3 conv are fixed offsets (dy-1)*pitch + (dx-1) over the flat range of rows 1..H). Register block: 8
// output channels x 3 zmm of 16 consecutive flat positions = 24 accumulators; per input channel and tap, 3
// unaligned loads + 8 weight broadcasts + 24 FMAs (weights packed by pack_conv3x3_oc8_f32). Partial sums of all oc
// blocks in a per-thread scratch (ic chunks above 256 channels), ring columns and positions past the last row
// masked at the store (AVX-512 mask registers), OpenMP over flat tiles of whole 48-position blocks.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <omp.h>

#include "backends/cpu/conv3x3.h"

namespace resr::cpu {
namespace {

constexpr int kStep = 48;                       // flat positions per register block (3 zmm)
constexpr int kAccFloats = kConvOcBlock8 * 48;  // one oc block's partial sums: [8 oc][3 zmm][16]

struct EpilogueVecs {
  __m512 bias, slope;
};

// The 8 oc x 3 zmm block in inline assembly (gcc folds the input loads and broadcasts into the FMAs as memory
// operands, multiplying the loads, and spills in the partial blocks): zmm0-23 are the accumulators (output j,
// vector v in zmm 3j+v), zmm24-26 the 3 input vectors of a tap, zmm27/28 the broadcast weights (alternating).
// NOC < 8 (the last, partial oc block) drops outputs j >= NOC with assembler `.if`s on the immediate %c[noc].
#define RESR_OC(T, J, B, A0, A1, A2)                \
  ".if " #J                                         \
  " < %c[noc]\n\t"                                  \
  "vbroadcastss " #T "*32+" #J "*4(%[w]), %%zmm" #B \
  "\n\t"                                            \
  "vfmadd231ps %%zmm24, %%zmm" #B ", %%zmm" #A0     \
  "\n\t"                                            \
  "vfmadd231ps %%zmm25, %%zmm" #B ", %%zmm" #A1     \
  "\n\t"                                            \
  "vfmadd231ps %%zmm26, %%zmm" #B ", %%zmm" #A2     \
  "\n\t"                                            \
  ".endif\n\t"

#define RESR_TAP(ROW, DX, T)                                                                        \
  "vmovups " #DX "*4+0" ROW                                                                         \
  ", %%zmm24\n\t"                                                                                   \
  "vmovups " #DX "*4+64" ROW                                                                        \
  ", %%zmm25\n\t"                                                                                   \
  "vmovups " #DX "*4+128" ROW ", %%zmm26\n\t" RESR_OC(T, 0, 27, 0, 1, 2) RESR_OC(T, 1, 28, 3, 4, 5) \
      RESR_OC(T, 2, 27, 6, 7, 8) RESR_OC(T, 3, 28, 9, 10, 11) RESR_OC(T, 4, 27, 12, 13, 14)         \
          RESR_OC(T, 5, 28, 15, 16, 17) RESR_OC(T, 6, 27, 18, 19, 20) RESR_OC(T, 7, 28, 21, 22, 23)

#define RESR_ROW0 "(%[r])"
#define RESR_ROW1 "(%[r],%[p1],1)"
#define RESR_ROW2 "(%[r],%[p2],1)"

// Load (L) or store (S) output J's three accumulators.
#define RESR_ACC_L(J, A0, A1, A2)                \
  ".if " #J                                      \
  " < %c[noc]\n\t"                               \
  ".if %c[init]\n\t"                             \
  "vpxord %%zmm" #A0 ", %%zmm" #A0 ", %%zmm" #A0 \
  "\n\t"                                         \
  "vpxord %%zmm" #A1 ", %%zmm" #A1 ", %%zmm" #A1 \
  "\n\t"                                         \
  "vpxord %%zmm" #A2 ", %%zmm" #A2 ", %%zmm" #A2 \
  "\n\t"                                         \
  ".else\n\t"                                    \
  "vmovups " #A0 "*64(%[acc]), %%zmm" #A0        \
  "\n\t"                                         \
  "vmovups " #A1 "*64(%[acc]), %%zmm" #A1        \
  "\n\t"                                         \
  "vmovups " #A2 "*64(%[acc]), %%zmm" #A2        \
  "\n\t"                                         \
  ".endif\n\t"                                   \
  ".endif\n\t"
#define RESR_ACC_S(J, A0, A1, A2) \
  ".if " #J                       \
  " < %c[noc]\n\t"                \
  "vmovups %%zmm" #A0 ", " #A0    \
  "*64(%[acc])\n\t"               \
  "vmovups %%zmm" #A1 ", " #A1    \
  "*64(%[acc])\n\t"               \
  "vmovups %%zmm" #A2 ", " #A2    \
  "*64(%[acc])\n\t"               \
  ".endif\n\t"
#define RESR_ACC_ALL(M) \
  M(0, 0, 1, 2)         \
  M(1, 3, 4, 5) M(2, 6, 7, 8) M(3, 9, 10, 11) M(4, 12, 13, 14) M(5, 15, 16, 17) M(6, 18, 19, 20) M(7, 21, 22, 23)

// acc[(o * 3 + v) * 16 + lane] (+)= sum over ic input channels and taps for output o < NOC of the block, position
// src + 16 v + lane; INIT: "=" (the first ic chunk: acc is not read).
template <int NOC, bool INIT>
void accumulate(const float* src, std::size_t stride, int pitch, int ic, const float* wb, float* acc) {
  const float* r = src - pitch - 1;
  const std::ptrdiff_t p1 = std::ptrdiff_t(pitch) * 4, p2 = 2 * p1;
  const std::ptrdiff_t sb = std::ptrdiff_t(stride) * 4;
  std::ptrdiff_t n = ic;
  asm volatile(
      RESR_ACC_ALL(RESR_ACC_L)
      ".p2align 5\n"
      "1:\n\t"
      RESR_TAP(RESR_ROW0, 0, 0) RESR_TAP(RESR_ROW0, 1, 1) RESR_TAP(RESR_ROW0, 2, 2)
      RESR_TAP(RESR_ROW1, 0, 3) RESR_TAP(RESR_ROW1, 1, 4) RESR_TAP(RESR_ROW1, 2, 5)
      RESR_TAP(RESR_ROW2, 0, 6) RESR_TAP(RESR_ROW2, 1, 7) RESR_TAP(RESR_ROW2, 2, 8)
      "add %[sb], %[r]\n\t"
      "add $288, %[w]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      RESR_ACC_ALL(RESR_ACC_S)
      : [r] "+r"(r), [w] "+r"(wb), [n] "+r"(n)
      : [p1] "r"(p1), [p2] "r"(p2), [sb] "r"(sb), [acc] "r"(acc), [noc] "i"(NOC), [init] "i"(INIT ? 1 : 0)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28");
}

#undef RESR_OC
#undef RESR_TAP
#undef RESR_ROW0
#undef RESR_ROW1
#undef RESR_ROW2
#undef RESR_ACC_L
#undef RESR_ACC_S
#undef RESR_ACC_ALL

using AccumulateFn = void (*)(const float*, std::size_t, int, int, const float*, float*);

template <bool INIT>
AccumulateFn accumulate_fn(int noc) {
  switch (noc) {
    case 1:
      return accumulate<1, INIT>;
    case 2:
      return accumulate<2, INIT>;
    case 3:
      return accumulate<3, INIT>;
    case 4:
      return accumulate<4, INIT>;
    case 5:
      return accumulate<5, INIT>;
    case 6:
      return accumulate<6, INIT>;
    case 7:
      return accumulate<7, INIT>;
    default:
      return accumulate<8, INIT>;
  }
}

struct StoreArgs {
  std::size_t stride;
  int pitch, end;
  const std::int32_t* ring_mask;  // [pitch + 16]: nonzero where (j % pitch) is an interior column
  const ConvEpilogue* ep;
};

// Epilogue of `noc` outputs starting at out0 (residual at res0, or null) for positions p .. p + 47. Positions
// at or past `end` are neither read nor written (masked); ring columns are written as zeros.
void store(const float* acc, int noc, const EpilogueVecs* ev, float* out0, const float* res0, int p,
           const StoreArgs& a) {
  const __m512 out_scale = _mm512_set1_ps(a.ep->out_scale);
  const __m512 res_scale = _mm512_set1_ps(a.ep->residual_scale);
  const __m512 zero = _mm512_setzero_ps();
  const bool act = a.ep->act != Activation::kNone;
  const bool scale = a.ep->out_scale != 1.0f;
  for (int v = 0; v < 3; ++v) {
    const int q = p + 16 * v;
    const int left = a.end - q;
    if (left <= 0) break;
    const __mmask16 live = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
    const __m512i ring = _mm512_loadu_si512(a.ring_mask + q % a.pitch);
    const __mmask16 interior = _mm512_test_epi32_mask(ring, ring);
    for (int o = 0; o < noc; ++o) {
      __m512 x = _mm512_add_ps(_mm512_loadu_ps(acc + (o * 3 + v) * 16), ev[o].bias);
      if (act) x = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), x, ev[o].slope);
      if (scale) x = _mm512_mul_ps(x, out_scale);
      if (res0 != nullptr) x = _mm512_fmadd_ps(res_scale, _mm512_maskz_loadu_ps(live, res0 + o * a.stride + q), x);
      _mm512_mask_storeu_ps(out0 + o * a.stride + q, live, _mm512_maskz_mov_ps(interior, x));
    }
  }
}

// Input channels per cache chunk. The 8 oc x 48 block is compute-bound enough that L2 serves its input rows
// and weights: measured on Zen 5 at 64x64 / 128x128, one chunk of all ic (up to 192) beat chunks of 12..64 by
// 0-4 points of peak, so chunking only starts above 256 input channels (rows of ~1 KB per channel per block).
int ic_chunk(int ic) {
  constexpr int kTarget = 256;
  const int chunks = (ic + kTarget - 1) / kTarget;
  return (ic + chunks - 1) / chunks;
}

}  // namespace

void conv3x3_direct_f32_avx512(const PackedConv3x3Oc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                               const ConvEpilogue& ep) {
  check_conv3x3_args(w, in, out, ep);
  const int h = out.geo.h, wd = out.geo.w, pitch = out.geo.pitch();
  if (h == 0 || wd == 0) return;
  const std::size_t stride = out.geo.plane_stride();
  const int start = pitch + 1;         // interior (0, 0)
  const int end = h * pitch + wd + 1;  // one past interior (h-1, w-1)
  const int len = end - start;
  // The last block's tap reads reach flat index (end - 1) + (kStep - 1) + pitch + 1 = (h + 2) * pitch + kStep - 2,
  // which must stay inside the plane's (h + 2) * pitch + kSlack floats.
  static_assert(kStep - 2 < PaddedGeometry::kSlack);

  std::vector<std::int32_t> ring_mask(std::size_t(pitch) + 16);
  for (int j = 0; j < pitch + 16; ++j) {
    const int c = j % pitch;
    ring_mask[j] = (c >= 1 && c <= wd) ? -1 : 0;
  }
  const int nblocks = w.oc_blocks();
  std::vector<EpilogueVecs> ev(std::size_t(nblocks) * kConvOcBlock8);
  for (int o = 0; o < nblocks * kConvOcBlock8; ++o) {
    const bool valid = o < w.oc;
    const float b = valid && ep.bias != nullptr ? ep.bias[o] : 0.0f;
    float s = 1.0f;
    if (ep.act == Activation::kLeakyRelu) s = ep.leaky_slope;
    if (ep.act == Activation::kPrelu) s = valid ? ep.prelu_slopes[o] : 0.0f;
    ev[o] = {_mm512_set1_ps(b), _mm512_set1_ps(s)};
  }
  const StoreArgs sa{stride, pitch, end, ring_mask.data(), &ep};

  // Tiles: ranges of whole 48-position blocks (so each output position is written exactly once: residual == out
  // is safe), their number a multiple of the thread count (several per thread, each at most ~1k positions) and
  // their sizes differing by at most one block, so the threads finish together.
  const int nblk = (len + kStep - 1) / kStep;
  const int threads = std::max(1, omp_get_max_threads());
  const int want = (std::max(threads * 8, (len + 1023) / 1024) + threads - 1) / threads * threads;
  const int ntiles = std::min(want, nblk);

  const float* in0 = in.data;
  const float* wts = w.weights.data();
  const int ic = w.ic, oc = w.oc;
  const int icb = ic_chunk(ic);
  const std::size_t wblock = std::size_t(ic) * 9 * kConvOcBlock8;  // floats per oc block
#pragma omp parallel if (ntiles > 1 && std::size_t(len) * ic * oc > 200000)
  {
    AlignedBuffer scratch(std::size_t(nblocks) * kAccFloats);
    float* acc = scratch.data();
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < ntiles; ++t) {
      const int p0 = start + int(std::int64_t(t) * nblk / ntiles) * kStep;
      const int p1 = std::min(end, start + int(std::int64_t(t + 1) * nblk / ntiles) * kStep);
      for (int p = p0; p < p1; p += kStep) {
        for (int c0 = 0; c0 < ic; c0 += icb) {
          const int n = std::min(icb, ic - c0);
          const float* src = in0 + std::size_t(c0) * stride + p;
          for (int b = 0; b < nblocks; ++b) {
            const int noc = std::min(kConvOcBlock8, oc - b * kConvOcBlock8);
            const AccumulateFn fn = c0 == 0 ? accumulate_fn<true>(noc) : accumulate_fn<false>(noc);
            fn(src, stride, pitch, n, wts + b * wblock + std::size_t(c0) * 9 * kConvOcBlock8,
               acc + std::size_t(b) * kAccFloats);
          }
        }
        for (int b = 0; b < nblocks; ++b) {
          const int oc0 = b * kConvOcBlock8;
          store(acc + std::size_t(b) * kAccFloats, std::min(kConvOcBlock8, oc - oc0), &ev[oc0], out.plane(oc0),
                ep.residual != nullptr ? ep.residual->plane(oc0) : nullptr, p, sa);
        }
      }
    }
  }

  // Everything outside [start, end) was never written; ring columns inside it were written as zeros.
  for (int o = 0; o < oc; ++o) {
    float* dst = out.plane(o);
    std::memset(dst, 0, std::size_t(start) * sizeof(float));
    std::memset(dst + end, 0, (stride - std::size_t(end)) * sizeof(float));
  }
}

}  // namespace resr::cpu
