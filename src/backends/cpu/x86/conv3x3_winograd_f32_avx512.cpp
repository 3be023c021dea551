// conv3x3_winograd{43,63}_f32_avx512: Winograd F(m x m, 3x3), m = 4 or 6, t = m + 2 (Lavin & Gray 2015), the
// AVX-512 sibling of x86/conv3x3_winograd_f32_avx2.cpp (same tile list, transforms and interpolation points).
// Per block of kBlockTiles tiles and chunk of input channels: input transform V = B^T d B with 16 tiles in the 16
// lanes of a zmm (each row loaded as 8 floats of tiles k and k + 8, then 8 x 8 transposes in both 256-bit
// halves); for each of the t*t positions a GEMM M[pos][oc][tiles] += U[pos][oc][ic] V[pos][ic][tiles] register-
// blocked 8 oc x 48 tiles (3 loads + 8 broadcasts per 24 FMAs, inline assembly); then the output transform
// A^T M A with the fused epilogue, transposed back to rows of pixels (masked stores). With one chunk (up to 192
// input channels: every Real-ESRGAN conv) the GEMMs and the output transform go by blocks of 8 output channels
// (gemm_and_output_by_oc_block). OpenMP over blocks, interleaved (interleaved_block).
// The *_f16w variants (template parameter E = std::uint16_t) differ only at the weight-load site: see
// gemm_weights. The *_bf16 variants (E = Bf16Pairs) store V as bfloat16 channel pairs (store_bf16_pairs) and run the
// same GEMM with vdpbf16ps, which sums a pair's two products per lane: one V row then holds two input channels.
// GCC 12 flags its own _mm512_cvtph_ps (an intentionally undefined temporary in avx512fintrin.h) as maybe
// uninitialized once inlined here; the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "backends/cpu/conv3x3_winograd.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

constexpr int kOcb = kWinogradOcBlock8;
constexpr int kGroup = 16;       // tiles per zmm
constexpr int kBlockTiles = 48;  // tiles per block: row stride of the V and M scratch (= one GEMM block)

inline __m512 set1(float x) {
  return _mm512_set1_ps(x);
}
inline __m512 add(__m512 a, __m512 b) {
  return _mm512_add_ps(a, b);
}
inline __m512 sub(__m512 a, __m512 b) {
  return _mm512_sub_ps(a, b);
}
inline __m512 fma(__m512 a, __m512 b, __m512 c) {
  return _mm512_fmadd_ps(a, b, c);
}  // a * b + c
inline __m512 fnma(__m512 a, __m512 b, __m512 c) {
  return _mm512_fnmadd_ps(a, b, c);
}  // c - a * b

// ---- 1D transforms over 16 tiles at once (one zmm per element); see the AVX2 file for the matrices ----
template <int M>
struct Wino;

template <>
struct Wino<4> {
  static constexpr int kT = 6;
  static void bt(const __m512* d, __m512* o) {
    const __m512 c2 = set1(2.0f), c4 = set1(4.0f), c5 = set1(5.0f);
    o[0] = fnma(c5, d[2], fma(c4, d[0], d[4]));
    const __m512 t1 = fnma(c4, d[2], d[4]), t2 = fnma(c4, d[1], d[3]);
    o[1] = add(t1, t2);
    o[2] = sub(t1, t2);
    const __m512 t3 = sub(d[4], d[2]), t4 = sub(d[3], d[1]);
    o[3] = fma(c2, t4, t3);
    o[4] = fnma(c2, t4, t3);
    o[5] = fnma(c5, d[3], fma(c4, d[1], d[5]));
  }
  static void at(const __m512* m, __m512* y) {
    const __m512 a = add(m[1], m[2]), b = sub(m[1], m[2]), c = add(m[3], m[4]), e = sub(m[3], m[4]);
    y[0] = add(add(m[0], a), c);
    y[1] = fma(set1(2.0f), e, b);
    y[2] = fma(set1(4.0f), c, a);
    y[3] = add(fma(set1(8.0f), e, b), m[5]);
  }
};

template <>
struct Wino<6> {
  static constexpr int kT = 8;
  static void bt(const __m512* d, __m512* o) {
    const __m512 c525 = set1(5.25f), c425 = set1(4.25f);
    o[0] = fma(c525, sub(d[4], d[2]), sub(d[0], d[6]));
    o[7] = fma(c525, sub(d[3], d[5]), sub(d[7], d[1]));
    const __m512 e1 = fnma(c425, d[4], add(d[2], d[6]));
    const __m512 o1 = fnma(c425, d[3], add(d[1], d[5]));
    o[1] = add(e1, o1);
    o[2] = sub(e1, o1);
    const __m512 e2 = fnma(set1(1.25f), d[4], fma(set1(0.25f), d[2], d[6]));
    const __m512 o2 = fma(set1(2.0f), d[5], fnma(set1(2.5f), d[3], _mm512_mul_ps(set1(0.5f), d[1])));
    o[3] = add(e2, o2);
    o[4] = sub(e2, o2);
    const __m512 e3 = fnma(set1(5.0f), d[4], fma(set1(4.0f), d[2], d[6]));
    const __m512 o3 = fma(set1(0.5f), d[5], fnma(set1(2.5f), d[3], _mm512_mul_ps(set1(2.0f), d[1])));
    o[5] = add(e3, o3);
    o[6] = sub(e3, o3);
  }
  static void at(const __m512* m, __m512* y) {
    const __m512 a1 = add(m[1], m[2]), b1 = sub(m[1], m[2]);
    const __m512 a2 = add(m[3], m[4]), b2 = sub(m[3], m[4]);
    const __m512 a3 = add(m[5], m[6]), b3 = sub(m[5], m[6]);
    y[0] = add(add(m[0], a1), add(a2, a3));
    y[1] = fma(set1(0.5f), b3, fma(set1(2.0f), b2, b1));
    y[2] = fma(set1(0.25f), a3, fma(set1(4.0f), a2, a1));
    y[3] = fma(set1(0.125f), b3, fma(set1(8.0f), b2, b1));
    y[4] = fma(set1(0.0625f), a3, fma(set1(16.0f), a2, a1));
    y[5] = add(fma(set1(0.03125f), b3, fma(set1(32.0f), b2, b1)), m[7]);
  }
};

// _mm512_unpack{lo,hi}_ps through their zero-masked forms: gcc 12 warns (-Wmaybe-uninitialized) on the
// undefined pass-through operand of the plain forms; an all-ones mask compiles to the same instruction.
inline __m512 unpacklo(__m512 a, __m512 b) {
  return _mm512_maskz_unpacklo_ps(__mmask16(0xFFFF), a, b);
}
inline __m512 unpackhi(__m512 a, __m512 b) {
  return _mm512_maskz_unpackhi_ps(__mmask16(0xFFFF), a, b);
}

// 8 x 8 transpose in each 256-bit half: r[k] = [a_k[0..7] | b_k[0..7]] -> r[c] = [a_0..7[c] | b_0..7[c]].
inline void transpose8_halves(__m512* r) {
  const __m512 t0 = unpacklo(r[0], r[1]), t1 = unpackhi(r[0], r[1]);
  const __m512 t2 = unpacklo(r[2], r[3]), t3 = unpackhi(r[2], r[3]);
  const __m512 t4 = unpacklo(r[4], r[5]), t5 = unpackhi(r[4], r[5]);
  const __m512 t6 = unpacklo(r[6], r[7]), t7 = unpackhi(r[6], r[7]);
  // s_c (c = 0..3) = [rows 0..3 element c | rows 0..3 element c + 4] per 256-bit half; s_{c+4}: rows 4..7.
  const __m512 s0 = _mm512_shuffle_ps(t0, t2, 0x44), s1 = _mm512_shuffle_ps(t0, t2, 0xEE);
  const __m512 s2 = _mm512_shuffle_ps(t1, t3, 0x44), s3 = _mm512_shuffle_ps(t1, t3, 0xEE);
  const __m512 s4 = _mm512_shuffle_ps(t4, t6, 0x44), s5 = _mm512_shuffle_ps(t4, t6, 0xEE);
  const __m512 s6 = _mm512_shuffle_ps(t5, t7, 0x44), s7 = _mm512_shuffle_ps(t5, t7, 0xEE);
  const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
  const __m512i hi = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
  r[0] = _mm512_permutex2var_ps(s0, lo, s4);
  r[1] = _mm512_permutex2var_ps(s1, lo, s5);
  r[2] = _mm512_permutex2var_ps(s2, lo, s6);
  r[3] = _mm512_permutex2var_ps(s3, lo, s7);
  r[4] = _mm512_permutex2var_ps(s0, hi, s4);
  r[5] = _mm512_permutex2var_ps(s1, hi, s5);
  r[6] = _mm512_permutex2var_ps(s2, hi, s6);
  r[7] = _mm512_permutex2var_ps(s3, hi, s7);
}

inline __m512 load2(const float* lo, const float* hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(lo)), _mm256_loadu_ps(hi), 1);
}

// Cache lines to prefetch (pf + lines[0 .. n)) while a group is transformed, spread over its rows.
struct Prefetch {
  const float* pf;
  const std::ptrdiff_t* lines;
  int n;
};

// V[pos] = B^T d B for the 16 tiles whose input patches start at src[k] (row pitch `pitch`; 8 floats are read per
// patch row, for m = 4 the last 2 are ignored), handed to sink(pos, 16 tiles' values). The sink is taken by value
// and captures by value: a local copy that no store can alias keeps its pointers in registers (through a
// reference, each of the t * t stores reloaded them: measured 2-3% of a 64 -> 64 conv).
template <int M, class Sink>
void input_group(const float* const* src, std::ptrdiff_t pitch, Sink sink, Prefetch pre) {
  constexpr int T = Wino<M>::kT;
  __m512 tmp[T * T];
  for (int r = 0; r < T; ++r) {
    for (int l = r * pre.n / T; l < (r + 1) * pre.n / T; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(pre.pf + pre.lines[l]), _MM_HINT_T0);
    __m512 d[8];
    const std::ptrdiff_t off = r * pitch;
    for (int k = 0; k < 8; ++k) d[k] = load2(src[k] + off, src[k + 8] + off);
    transpose8_halves(d);
    Wino<M>::bt(d, tmp + r * T);
  }
  for (int j = 0; j < T; ++j) {
    __m512 d[T], o[T];
    for (int r = 0; r < T; ++r) d[r] = tmp[r * T + j];
    Wino<M>::bt(d, o);
    for (int i = 0; i < T; ++i) sink(i * T + j, o[i]);
  }
}

// 16 tiles' V of input channels 2k (even) and 2k + 1 (odd) as 16 bfloat16 pairs, even in the low half of each
// 32-bit word (vdpbf16ps's pairing), rounded to nearest even.
inline void store_bf16_pairs(float* dst, __m512 even, __m512 odd) {
  // vcvtne2ps2bf16 puts even's 16 values in words 0..15 and odd's in 16..31; word 2t <- t, 2t + 1 <- 16 + t.
  alignas(64) static constexpr std::uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                                21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                                11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i words = std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(odd, even));
  _mm512_store_si512(dst, _mm512_permutexvar_epi16(_mm512_load_si512(kInterleave), words));
}

// c[o][j] (+)= sum_k u[k * 8 + o] * v[k * kBlockTiles + 16 j]; m[o * kBlockTiles + 16 j] = c[o][j]. Intrinsics
// version for the tails of 16 or 32 tiles.
template <int NV>
void gemm_8xn(const float* v, const float* u, int kc, float* m, bool accumulate) {
  __m512 c[kOcb][NV];
  for (int o = 0; o < kOcb; ++o)
    for (int j = 0; j < NV; ++j)
      c[o][j] = accumulate ? _mm512_load_ps(m + o * kBlockTiles + 16 * j) : _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    __m512 x[NV];
    for (int j = 0; j < NV; ++j) x[j] = _mm512_load_ps(v + 16 * j);
    for (int o = 0; o < kOcb; ++o) {
      const __m512 b = _mm512_set1_ps(u[o]);
      for (int j = 0; j < NV; ++j) c[o][j] = fma(b, x[j], c[o][j]);
    }
    v += kBlockTiles;
    u += kOcb;
  }
  for (int o = 0; o < kOcb; ++o)
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + o * kBlockTiles + 16 * j, c[o][j]);
}

// gemm_8xn over bfloat16 pairs: kc rows of V, each 16 tiles x 2 channels per zmm; u: per row, 8 words of 2
// weights.
template <int NV>
void gemm_8xn_bf16(const float* v, const std::uint32_t* u, int kc, float* m, bool accumulate) {
  __m512 c[kOcb][NV];
  for (int o = 0; o < kOcb; ++o)
    for (int j = 0; j < NV; ++j)
      c[o][j] = accumulate ? _mm512_load_ps(m + o * kBlockTiles + 16 * j) : _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    __m512bh x[NV];
    for (int j = 0; j < NV; ++j) x[j] = std::bit_cast<__m512bh>(_mm512_load_ps(v + 16 * j));
    for (int o = 0; o < kOcb; ++o) {
      const __m512bh b = std::bit_cast<__m512bh>(_mm512_set1_epi32(int(u[o])));
      for (int j = 0; j < NV; ++j) c[o][j] = _mm512_dpbf16_ps(c[o][j], b, x[j]);
    }
    v += kBlockTiles;
    u += kOcb;
  }
  for (int o = 0; o < kOcb; ++o)
    for (int j = 0; j < NV; ++j) _mm512_store_ps(m + o * kBlockTiles + 16 * j, c[o][j]);
}

// The hot 8 oc x 48 tiles block in inline assembly (gcc folds loads and broadcasts into the FMAs as memory
// operands, multiplying the loads): zmm0-23 accumulate (output o, vector j in zmm 3o+j), zmm24-26 hold one V row's
// 48 tiles, zmm27/28 the broadcast weights (alternating); two V rows per iteration. INSN is vfmadd231ps (a row is
// one input channel, u 8 floats per row) or vdpbf16ps (a row is a pair of channels in bfloat16, u 8 words of two
// bfloat16 weights per row): the same registers, loads and loop.
static_assert(kBlockTiles == 48 && kOcb == 8, "the assembly below hard-codes a V / M row of 192 bytes");
#define RESR_W5_OC(I, U, O, B, A0, A1, A2)                                                           \
  "vbroadcastss " U "+" #O "*4(%[u]), %%zmm" #B "\n\t" I " %%zmm24, %%zmm" #B ", %%zmm" #A0 "\n\t" I \
  " %%zmm25, %%zmm" #B ", %%zmm" #A1 "\n\t" I " %%zmm26, %%zmm" #B ", %%zmm" #A2 "\n\t"
#define RESR_W5_STEP(I, V, U)                                                                                 \
  "vmovaps " V                                                                                                \
  "+0(%[v]), %%zmm24\n\t"                                                                                     \
  "vmovaps " V                                                                                                \
  "+64(%[v]), %%zmm25\n\t"                                                                                    \
  "vmovaps " V "+128(%[v]), %%zmm26\n\t" RESR_W5_OC(I, U, 0, 27, 0, 1, 2) RESR_W5_OC(I, U, 1, 28, 3, 4, 5)    \
      RESR_W5_OC(I, U, 2, 27, 6, 7, 8) RESR_W5_OC(I, U, 3, 28, 9, 10, 11) RESR_W5_OC(I, U, 4, 27, 12, 13, 14) \
          RESR_W5_OC(I, U, 5, 28, 15, 16, 17) RESR_W5_OC(I, U, 6, 27, 18, 19, 20) RESR_W5_OC(I, U, 7, 28, 21, 22, 23)
// Load (L), zero (Z) or store (S) output O's three accumulators (M row o at byte offset 192 o).
#define RESR_W5_L(O, A0, A1, A2)           \
  "vmovaps " #O "*192+0(%[m]), %%zmm" #A0  \
  "\n\t"                                   \
  "vmovaps " #O "*192+64(%[m]), %%zmm" #A1 \
  "\n\t"                                   \
  "vmovaps " #O "*192+128(%[m]), %%zmm" #A2 "\n\t"
#define RESR_W5_Z(O, A0, A1, A2)                 \
  "vpxord %%zmm" #A0 ", %%zmm" #A0 ", %%zmm" #A0 \
  "\n\t"                                         \
  "vpxord %%zmm" #A1 ", %%zmm" #A1 ", %%zmm" #A1 \
  "\n\t"                                         \
  "vpxord %%zmm" #A2 ", %%zmm" #A2 ", %%zmm" #A2 "\n\t"
#define RESR_W5_S(O, A0, A1, A2) \
  "vmovaps %%zmm" #A0 ", " #O    \
  "*192+0(%[m])\n\t"             \
  "vmovaps %%zmm" #A1 ", " #O    \
  "*192+64(%[m])\n\t"            \
  "vmovaps %%zmm" #A2 ", " #O "*192+128(%[m])\n\t"
#define RESR_W5_ALL(X) \
  X(0, 0, 1, 2)        \
  X(1, 3, 4, 5) X(2, 6, 7, 8) X(3, 9, 10, 11) X(4, 12, 13, 14) X(5, 15, 16, 17) X(6, 18, 19, 20) X(7, 21, 22, 23)
#define RESR_W5_GEMM(I) \
  asm volatile(                                                                                                    \
      "test %[acc], %[acc]\n\t"                                                                                    \
      "jz 2f\n\t" RESR_W5_ALL(RESR_W5_L) "jmp 3f\n"                                                                \
      "2:\n\t" RESR_W5_ALL(RESR_W5_Z) "3:\n\t"                                                                    \
      "test %[odd], %[odd]\n\t"                                                                                    \
      "jz 4f\n\t" RESR_W5_STEP(I, "0", "0") "add $192, %[v]\n\t"                                                  \
      "add $32, %[u]\n"                                                                                           \
      "4:\n\t"                                                                                                    \
      "test %[n], %[n]\n\t"                                                                                        \
      "jz 6f\n\t"                                                                                                  \
      ".p2align 5\n"                                                                                              \
      "5:\n\t" RESR_W5_STEP(I, "0", "0") RESR_W5_STEP(I, "192", "32") "add $384, %[v]\n\t"                         \
      "add $64, %[u]\n\t"                                                                                          \
      "dec %[n]\n\t"                                                                                               \
      "jnz 5b\n"                                                                                                  \
      "6:\n\t" RESR_W5_ALL(RESR_W5_S)                                                                             \
      : [v] "+r"(v), [u] "+r"(u), [n] "+r"(pairs)                                                                  \
      : [m] "r"(m), [odd] "r"(odd), [acc] "r"(acc)                                                                 \
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", \
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28")

// kc V rows; W = float (fp32 weights) or std::uint32_t (bfloat16 pairs).
template <class W>
void gemm_8x3(const float* v, const W* u, int kc, float* m, bool accumulate) {
  std::ptrdiff_t pairs = kc / 2;
  const std::ptrdiff_t odd = kc & 1, acc = accumulate ? 1 : 0;
  if constexpr (std::is_same_v<W, float>) {
    RESR_W5_GEMM("vfmadd231ps");
  } else {
    static_assert(std::is_same_v<W, std::uint32_t>);
    RESR_W5_GEMM("vdpbf16ps");
  }
}

#undef RESR_W5_OC
#undef RESR_W5_STEP
#undef RESR_W5_L
#undef RESR_W5_Z
#undef RESR_W5_S
#undef RESR_W5_ALL
#undef RESR_W5_GEMM

// The GEMM's weights for kc input channels of one oc block (kc * 8 values). fp32 storage is read in place.
// binary16 storage is widened (vcvtph2ps) into `buf` first: converting inside the assembly block would cost a
// conversion (2 uops on the FMA ports) per broadcast, 8 per 24 FMAs, while widening the slice costs one
// conversion per 16 weights, i.e. per 48 FMAs, and the slice (<= 3 KB) is then read from L1 like fp32 weights.
// The multiplication by the block's power-of-two scale is exact.
inline const float* gemm_weights(const float* u, int, float, float*) {
  return u;
}
inline const float* gemm_weights(const std::uint16_t* u, int kc, float scale, float* buf) {
  const int n = kc * kOcb;  // a multiple of 8
  const __m512 s = set1(scale);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + i)));
    _mm512_store_ps(buf + i, _mm512_mul_ps(x, s));
  }
  if (i < n) {
    const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u + i)));
    _mm256_store_ps(buf + i, _mm256_mul_ps(x, _mm512_castps512_ps256(s)));
  }
  return buf;
}

struct Scratch {
  AlignedBuffer v, m, patch, u;           // u: widened weights (used by binary16 storage only; a few KB)
  AlignedBuffer stash;                    // bfloat16 only: the even channel's V per group, until the odd one's
  std::vector<std::ptrdiff_t> lines;      // per fast group: float offsets of the cache lines its patches read
  std::vector<std::ptrdiff_t> out_lines;  // float offsets of the cache lines the block writes in each out plane
};

float* ensure(AlignedBuffer& b, std::size_t n) {
  if (b.size() < n) b = AlignedBuffer(n);
  return b.data();
}

// The E of the bfloat16 kernel: V and U in bfloat16 channel pairs.
struct Bf16Pairs {};
template <class E>
struct PackedOf {
  using type = PackedWinogradOc8Of<E>;
};
template <>
struct PackedOf<Bf16Pairs> {
  using type = PackedWinogradOc8Bf16;
};

template <int M, class E>
struct Kernel {
  static constexpr int T = Wino<M>::kT;
  static constexpr int P = T * T;
  static constexpr bool kBf16 = std::is_same_v<E, Bf16Pairs>;
  static constexpr int kRowChannels = kBf16 ? 2 : 1;  // input channels per V row
  static int rows(int channels) { return (channels + kRowChannels - 1) / kRowChannels; }

  const typename PackedOf<E>::type& w;
  const PaddedPlanes& in;
  const PaddedPlanes& out;
  const ConvEpilogue& ep;
  const std::vector<WinogradTile>& tiles;
  int kc_max;

  // Tiles [t0, end), at most kBlockTiles of them.
  void run_block(int t0, int end, Scratch& s) const {
    const int nt = std::min(kBlockTiles, end - t0);
    const int ng = (nt + kGroup - 1) / kGroup;
    const int nb = w.oc_blocks(), ocp = nb * kOcb, ic = w.ic;
    // Floats per position in V and M, plus one cache line: the transforms touch all positions at once, and
    // strides that are multiples of 4 KB would map them all to the same L1 set.
    const std::size_t vstride = std::size_t(rows(kc_max)) * kBlockTiles + 16;
    const std::size_t mstride = std::size_t(ocp) * kBlockTiles + 16;
    float* v = ensure(s.v, P * vstride);
    float* mb = kc_max < ic ? ensure(s.m, P * mstride) : nullptr;  // chunked path only
    float* patch = ensure(s.patch, kGroup * 64);
    float* ubuf = ensure(s.u, std::size_t(kc_max) * kOcb);
    const std::ptrdiff_t pitch = in.geo.pitch();
    const std::size_t plane = in.geo.plane_stride();
    bool fast[kBlockTiles / kGroup];  // group of 16 tiles all full (read straight from the planes)
    for (int g = 0; g < ng; ++g) {
      const WinogradTile* tg = tiles.data() + t0 + kGroup * g;
      const int cnt = std::min(kGroup, end - (t0 + kGroup * g));
      fast[g] = cnt == kGroup;
      for (int k = 0; k < cnt && fast[g]; ++k) fast[g] = tg[k].full;
    }

    // The cache lines (offsets in a plane, 64-byte aligned) each fast group reads, prefetched one channel ahead:
    // the patches of one channel are 8 short row segments per tile row, too scattered for the hardware prefetcher.
    std::size_t lbeg[kBlockTiles / kGroup + 1] = {0};
    s.lines.clear();
    for (int g = 0; g < ng; ++g) {
      if (fast[g]) {
        const WinogradTile* tg = tiles.data() + t0 + kGroup * g;
        // Per patch row, tiles in raster order: the lines only grow, so dropping repeats of the last one suffices
        // (a line shared by two patch rows of tile rows ty and ty + 1 is prefetched twice, harmlessly).
        for (int r = 0; r < T; ++r) {
          std::ptrdiff_t last = -1;
          for (int k = 0; k < kGroup; ++k)
            for (const int c : {0, 7}) {
              const std::ptrdiff_t line = (tg[k].in_off + r * pitch + c) & ~std::ptrdiff_t(15);
              if (line != last) s.lines.push_back(line);
              last = line;
            }
        }
      }
      lbeg[g + 1] = s.lines.size();
    }
    const std::ptrdiff_t* lines = s.lines.data();

    for (int c0 = 0; c0 < ic; c0 += kc_max) {
      const int kc = std::min(kc_max, ic - c0);
      // Input channel c's transform of group g, handed to sink(pos, 16 tiles' values).
      auto transform = [&](int c, int g, auto sink) {
        const float* base = in.data + c * plane;
        const float* next = c + 1 < ic ? base + plane : nullptr;
        const WinogradTile* tg = tiles.data() + t0 + kGroup * g;
        const int cnt = std::min(kGroup, end - (t0 + kGroup * g));
        const Prefetch pre{next, lines + lbeg[g], next != nullptr ? int(lbeg[g + 1] - lbeg[g]) : 0};
        const float* src[kGroup];
        std::ptrdiff_t sp = pitch;
        if (fast[g]) {
          for (int k = 0; k < kGroup; ++k) src[k] = base + tg[k].in_off;
        } else {
          fill_patch(base, tg, cnt, pitch, patch);
          for (int k = 0; k < kGroup; ++k) src[k] = patch + k * 64;
          sp = 8;
        }
        input_group<M>(src, sp, sink, pre);
      };
      // Channel-major, then groups in tile order: consecutive groups read adjacent row segments of one plane.
      if constexpr (!kBf16) {
        for (int kk = 0; kk < kc; ++kk)
          for (int g = 0; g < ng; ++g) {
            float* row = v + std::size_t(kk) * kBlockTiles + kGroup * g;
            transform(c0 + kk, g, [row, vstride](int pos, __m512 x) { _mm512_store_ps(row + pos * vstride, x); });
          }
      } else {
        float* stash = ensure(s.stash, std::size_t(ng) * P * kGroup);
        for (int kk = 0; kk < kc; kk += 2) {
          for (int g = 0; g < ng; ++g) {
            float* even = stash + std::size_t(g) * P * kGroup;
            transform(c0 + kk, g, [even](int pos, __m512 x) { _mm512_store_ps(even + pos * kGroup, x); });
          }
          for (int g = 0; g < ng; ++g) {
            const float* even = stash + std::size_t(g) * P * kGroup;
            float* row = v + std::size_t(kk / 2) * kBlockTiles + kGroup * g;
            auto pair = [row, even, vstride](int pos, __m512 odd) {
              store_bf16_pairs(row + pos * vstride, _mm512_load_ps(even + pos * kGroup), odd);
            };
            if (c0 + kk + 1 < ic) {
              transform(c0 + kk + 1, g, pair);
            } else {  // odd ic: the last pair's second channel is zero
              for (int pos = 0; pos < P; ++pos) pair(pos, _mm512_setzero_ps());
            }
          }
        }
      }
      if (kc == ic) {  // one chunk: GEMM and output transform per oc block, M stays in L1/L2
        gemm_and_output_by_oc_block(v, vstride, ng, t0, end, fast, s);
        return;
      }
      for (int p = 0; p < P; ++p) {
        const float* vp = v + p * vstride;
        float* mp = mb + p * mstride;
        for (int b = 0; b < nb; ++b)
          gemm(vp, p, b, c0, kc, mp + std::size_t(b) * kOcb * kBlockTiles, c0 > 0, ng * kGroup, ubuf);
      }
    }

    for (int g = 0; g < ng; ++g) {
      const WinogradTile* tg = tiles.data() + t0 + kGroup * g;
      const int cnt = std::min(kGroup, end - (t0 + kGroup * g));
      for (int o = 0; o < w.oc; ++o)
        output_group(mb + std::size_t(o) * kBlockTiles + kGroup * g, mstride, tg, cnt, fast[g], o);
    }
    zero_winograd_ring_of_tiles(out, tiles.data() + t0, nt, 0, w.oc);
  }

  // M (8 oc x ntp tiles, ntp = 16, 32 or 48) (+)= the GEMM of position p, oc block b, over input channels
  // [c0, c0 + kc) of V (rows from vp). ubuf: scratch for widened binary16 weights.
  void gemm(const float* vp, int p, int b, int c0, int kc, float* mo, bool accumulate, int ntp, float* ubuf) const {
    if constexpr (kBf16) {
      const std::uint32_t* ub = w.weights.data() + w.slice(p, b) + std::size_t(c0 / 2) * kOcb;
      const int n = rows(kc);
      if (ntp == 48) gemm_8x3(vp, ub, n, mo, accumulate);
      if (ntp == 32) gemm_8xn_bf16<2>(vp, ub, n, mo, accumulate);
      if (ntp == 16) gemm_8xn_bf16<1>(vp, ub, n, mo, accumulate);
    } else {
      const E* up = w.weights.data() + w.slice(p, b) + std::size_t(c0) * kOcb;
      const float* ub = gemm_weights(up, kc, w.scale(p, b), ubuf);
      if (ntp == 48) gemm_8x3(vp, ub, kc, mo, accumulate);
      if (ntp == 32) gemm_8xn<2>(vp, ub, kc, mo, accumulate);
      if (ntp == 16) gemm_8xn<1>(vp, ub, kc, mo, accumulate);
    }
  }

  // All input channels are in V: for each oc block, the GEMM of every position into a small M (P x 8 oc x 48
  // tiles, 98 KB) and at once the output transform of those 8 channels. With the position-major order of the
  // chunked path, M holds every oc (786 KB for 64 oc) and has left L2 by the time the output transform reads it
  // back, 64 scattered lines per group: measured, that transform then cost nearly as much as the GEMM.
  void gemm_and_output_by_oc_block(const float* v, std::size_t vstride, int ng, int t0, int end, const bool* fast,
                                   Scratch& s) const {
    const int nb = w.oc_blocks(), ic = w.ic, ntp = ng * kGroup;
    const std::size_t mstride = std::size_t(kOcb) * kBlockTiles + 16;
    float* mb = ensure(s.m, P * mstride);
    float* ubuf = ensure(s.u, std::size_t(ic) * kOcb);
    list_output_lines(t0, end - t0, s.out_lines);
    const std::size_t nl = s.out_lines.size();
    for (int b = 0; b < nb; ++b) {
      const int ocn = std::min(kOcb, w.oc - b * kOcb);
      // The output rows of this oc block, fetched for writing while the GEMM runs (a share before each
      // position's GEMM): the masked stores of the output transform otherwise wait on each line's
      // read-for-ownership from memory (planes of large images do not stay in cache between layers). Walked
      // incrementally: a division per line cost as much as a tenth of the GEMM.
      const std::size_t total = nl * std::size_t(ocn), share = (total + P - 1) / P;
      std::size_t line = 0;
      int plane = b * kOcb;
      for (int p = 0; p < P; ++p) {
        for (std::size_t k = 0; k < share && plane < b * kOcb + ocn; ++k) {
          __builtin_prefetch(out.plane(plane) + s.out_lines[line], 1, 3);
          if (++line == nl) {
            line = 0;
            ++plane;
          }
        }
        gemm(v + p * vstride, p, b, 0, ic, mb + p * mstride, false, ntp, ubuf);
      }
      for (int g = 0; g < ng; ++g) {
        const WinogradTile* tg = tiles.data() + t0 + kGroup * g;
        const int cnt = std::min(kGroup, end - (t0 + kGroup * g));
        for (int o = 0; o < ocn; ++o)
          output_group(mb + std::size_t(o) * kBlockTiles + kGroup * g, mstride, tg, cnt, fast[g], b * kOcb + o);
      }
      zero_winograd_ring_of_tiles(out, tiles.data() + t0, std::min(kBlockTiles, end - t0), b * kOcb, b * kOcb + ocn);
    }
  }

  // The cache lines (float offsets in a plane, 64-byte aligned) that the output rows of tiles [t0, t0 + n)
  // touch, in order, without consecutive repeats.
  void list_output_lines(int t0, int n, std::vector<std::ptrdiff_t>& lines) const {
    lines.clear();
    const std::ptrdiff_t pitch = out.geo.pitch();
    const int end = std::min(int(tiles.size()), t0 + n);
    for (int r = 0; r < M; ++r)
      for (int t = t0; t < end; ++t) {
        if (r >= tiles[t].out_rows) continue;
        const std::ptrdiff_t first = tiles[t].out_off + r * pitch, last = first + tiles[t].out_cols - 1;
        for (std::ptrdiff_t l = first & ~std::ptrdiff_t(15); l <= last; l += 16)
          if (lines.empty() || lines.back() != l) lines.push_back(l);
      }
  }

  // Edge groups: patch[k][r][c] (8 x 8 per tile) = the tile's input patch, zero outside the padded plane.
  static void fill_patch(const float* base, const WinogradTile* tg, int cnt, std::ptrdiff_t pitch, float* patch) {
    for (int k = 0; k < kGroup; ++k) {
      const int rows = k < cnt ? tg[k].in_rows : 0;
      const __mmask8 mask = k < cnt ? __mmask8((1u << tg[k].in_cols) - 1u) : __mmask8(0);
      for (int r = 0; r < 8; ++r) {
        const __m256 x = r < rows ? _mm256_maskz_loadu_ps(mask, base + tg[k].in_off + r * pitch) : _mm256_setzero_ps();
        _mm256_store_ps(patch + k * 64 + r * 8, x);
      }
    }
  }

  void output_group(const float* m, std::size_t pos_stride, const WinogradTile* tg, int cnt, bool fast, int o) const {
    const __m512 bias = set1(ep.bias != nullptr ? ep.bias[o] : 0.0f);
    const bool act = ep.act != Activation::kNone;
    const __m512 slope = set1(ep.act == Activation::kPrelu ? ep.prelu_slopes[o] : ep.leaky_slope);
    const bool scaled = ep.out_scale != 1.0f;
    const __m512 scale = set1(ep.out_scale), rs = set1(ep.residual_scale);
    const std::ptrdiff_t pitch = out.geo.pitch();
    float* dplane = out.plane(o);
    const float* rplane = ep.residual != nullptr ? ep.residual->plane(o) : nullptr;
    constexpr __mmask8 kRow = __mmask8((1u << M) - 1u);

    __m512 tmp[M * T];
    for (int j = 0; j < T; ++j) {
      __m512 d[T], z[M];
      for (int i = 0; i < T; ++i) d[i] = _mm512_load_ps(m + std::size_t(i * T + j) * pos_stride);
      // Row 1 and column 1 of A^T are all ones for both tile sizes (every output takes m[1][1] with weight 1),
      // so the bias added there once reaches every output: one add per tile instead of m * m.
      if (j == 1) d[1] = add(d[1], bias);
      Wino<M>::at(d, z);
      for (int p = 0; p < M; ++p) tmp[p * T + j] = z[p];
    }
    for (int p = 0; p < M; ++p) {
      __m512 y[8];
      Wino<M>::at(tmp + p * T, y);
      for (int q = 0; q < M; ++q) {
        __m512 x = y[q];
        if (act) x = _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x, slope);
        if (scaled) x = _mm512_mul_ps(x, scale);
        y[q] = x;
      }
      if (fast) {
        for (int q = M; q < 8; ++q) y[q] = _mm512_setzero_ps();
        transpose8_halves(y);  // y[k] = [tile k q0..7 | tile k + 8 q0..7]
        for (int k = 0; k < 8; ++k) {
          const std::ptrdiff_t lo = tg[k].out_off + p * pitch, hi = tg[k + 8].out_off + p * pitch;
          __m512 x = y[k];
          if (rplane != nullptr) {
            const __m512 r = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_maskz_loadu_ps(kRow, rplane + lo)),
                                                _mm256_maskz_loadu_ps(kRow, rplane + hi), 1);
            x = fma(rs, r, x);
          }
          _mm512_mask_storeu_ps(dplane + lo, __mmask16(kRow), x);
          _mm256_mask_storeu_ps(dplane + hi, kRow, _mm512_maskz_extractf32x8_ps(__mmask8(0xFF), x, 1));
        }
      } else {
        alignas(64) float buf[M][kGroup];
        for (int q = 0; q < M; ++q) _mm512_store_ps(buf[q], y[q]);
        for (int k = 0; k < cnt; ++k) {
          if (p >= tg[k].out_rows) continue;
          float* dst = dplane + tg[k].out_off + p * pitch;
          const float* res = rplane != nullptr ? rplane + tg[k].out_off + p * pitch : nullptr;
          for (int q = 0; q < tg[k].out_cols; ++q) {
            float val = buf[q][k];
            if (res != nullptr) val += ep.residual_scale * res[q];
            dst[q] = val;
          }
        }
      }
    }
  }
};

// Block boundaries (tile indices, last = ntiles): blocks of kBlockTiles, but the last ~4 blocks' worth split
// into blocks of kGroup tiles, so that the threads finish together (one 48-tile block is ~2.5% of a 2-thread
// 64->64 conv at 256x256, which is what the slower thread waited on average).
std::vector<int> winograd_block_starts(int ntiles) {
  std::vector<int> starts{0};
  const int tail = 4 * kBlockTiles;
  while (starts.back() < ntiles) {
    const int step = ntiles - starts.back() > tail ? kBlockTiles : kGroup;
    starts.push_back(std::min(ntiles, starts.back() + step));
  }
  return starts;
}

// The block run i-th: of the first n (the full ones) 0, h, 1, h + 1, ... (h = n / 2 rounded up), then the rest
// in order: the two threads of a dynamic schedule then work far apart in the image instead of on neighbouring
// blocks, whose output rows share cache lines.
int interleaved_block(int i, int n) {
  if (i >= n) return i;
  const int half = (n + 1) / 2;
  return i % 2 == 0 ? i / 2 : half + i / 2;
}

// Input channels per V chunk. Up to this many, one chunk: the GEMM and output transform go oc block by oc
// block with a small M (gemm_and_output_by_oc_block); above it, M for every oc accumulates over the chunks.
// 192 covers every conv of the Real-ESRGAN models: x4plus 128x128 (2 threads) measured 645-654 ms vs 694-709
// ms with chunks of 96 (V = t*t * kc * 48 floats, 2.4 MB at kc = 192: from L3, read in order per position).
constexpr int kMaxChunk = 192;

template <int M, class E>
void run(const typename PackedOf<E>::type& w, const PaddedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) {
  check_conv3x3_winograd_args(w, in, out, ep);
  RESR_ASSERT(w.m == M);
  const int h = out.geo.h, wd = out.geo.w;
  if (h == 0 || wd == 0) return;
  const std::vector<WinogradTile> tiles = make_winograd_tiles(h, wd, M);
  const std::vector<int> starts = winograd_block_starts(int(tiles.size()));
  const int nblocks = int(starts.size()) - 1;
  int nfull = 0;
  while (nfull < nblocks && starts[nfull + 1] - starts[nfull] == kBlockTiles) ++nfull;
  const int chunks = (w.ic + kMaxChunk - 1) / kMaxChunk;
  int kc_max = (w.ic + chunks - 1) / chunks;
  if (Kernel<M, E>::kBf16) kc_max += kc_max % 2;  // chunks start at a pair
  const Kernel<M, E> k{w, in, out, ep, tiles, kc_max};
  const double work = double(tiles.size()) * w.ic * w.oc;
#pragma omp parallel if (nblocks > 1 && work > kWinogradParallelWork)
  {
    thread_local Scratch scratch;
#pragma omp for schedule(dynamic, 1) nowait
    for (int i = 0; i < nblocks; ++i) {
      const int b = interleaved_block(i, nfull);
      k.run_block(starts[b], starts[b + 1], scratch);
    }
  }
}

}  // namespace

void conv3x3_winograd43_f32_avx512(const PackedWinogradOc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                   const ConvEpilogue& ep) {
  run<4, float>(w, in, out, ep);
}

void conv3x3_winograd63_f32_avx512(const PackedWinogradOc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                   const ConvEpilogue& ep) {
  run<6, float>(w, in, out, ep);
}

void conv3x3_winograd43_f16w_avx512(const PackedWinogradOc8F16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep) {
  run<4, std::uint16_t>(w, in, out, ep);
}

void conv3x3_winograd63_f16w_avx512(const PackedWinogradOc8F16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep) {
  run<6, std::uint16_t>(w, in, out, ep);
}

void conv3x3_winograd63_bf16_avx512(const PackedWinogradOc8Bf16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep) {
  run<6, Bf16Pairs>(w, in, out, ep);
}

void conv3x3_winograd43_bf16_avx512(const PackedWinogradOc8Bf16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep) {
  run<4, Bf16Pairs>(w, in, out, ep);
}

PackedWinogradOc8F16 pack_conv3x3_winograd_oc8_f16(const float* weights, int oc, int ic, int m) {
  // Pack in fp32 (one layer, transiently) and narrow: one transform code path for both storages.
  const PackedWinogradOc8 f = pack_conv3x3_winograd_oc8_f32(weights, oc, ic, m);
  PackedWinogradOc8F16 p;
  p.ic = ic;
  p.oc = oc;
  p.m = m;
  p.weights = AlignedArray<std::uint16_t>(f.weights.size());
  p.scales.assign(std::size_t(f.positions()) * f.oc_blocks(), 1.0f);
  const std::size_t n = std::size_t(ic) * kOcb;  // values per (pos, block): a multiple of 8
  for (std::size_t blk = 0; blk < p.scales.size(); ++blk) {
    const float* src = f.weights.data() + blk * n;
    std::uint16_t* dst = p.weights.data() + blk * n;
    float big = 0.0f;
    for (std::size_t i = 0; i < n; ++i) big = std::max(big, std::fabs(src[i]));
    if (big == 0.0f) continue;  // all zero: stays zero
    int e = 0;
    std::frexp(big, &e);  // big in [2^(e-1), 2^e)
    p.scales[blk] = std::ldexp(1.0f, e - 15);
    const __m256 inv = _mm256_set1_ps(std::ldexp(1.0f, 15 - e));  // exact: a power of two
    for (std::size_t i = 0; i < n; i += 8) {
      const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(src + i), inv);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                       _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
  }
  return p;
}

}  // namespace resr::cpu
