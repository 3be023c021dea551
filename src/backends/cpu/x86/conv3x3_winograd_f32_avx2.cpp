// conv3x3_winograd{43,63}_f32_avx2: Winograd F(m x m, 3x3), m = 4 or 6, t = m + 2 (Lavin & Gray 2015).
// The image is cut into m x m output tiles (t x t input tiles, reading padded rows/cols from the tile origin);
// tiles are listed full tiles first, edge tiles (which need zeros beyond the padded plane) last, and processed in
// blocks of kBlockTiles. Per block and per chunk of input channels: input transform V = B^T d B with 8 tiles in
// the 8 lanes of a ymm (rows loaded as 128-bit halves of two tiles, 4x4 in-lane transposes), then for each of
// the t*t positions a GEMM M[pos][oc][tiles] += U[pos][oc][ic] V[pos][ic][tiles] register-blocked 4 oc x 24 tiles
// (3 loads + 4 broadcasts per 12 FMAs), then the output transform A^T M A with the fused epilogue, transposed back
// to rows of pixels. OpenMP over blocks; the out ring/slack is zeroed per plane at the end.
#include <immintrin.h>

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "backends/cpu/conv3x3_winograd.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

constexpr int kOcb = kWinogradOcBlock;
constexpr int kGemmTiles = 24;   // tiles per GEMM register block (3 ymm)
constexpr int kBlockTiles = 48;  // tiles per block: row stride of the V and M scratch
constexpr int kMaxChunk = 64;    // input channels per V chunk (keeps V + M within L2)

inline __m256 set1(float x) {
  return _mm256_set1_ps(x);
}
inline __m256 add(__m256 a, __m256 b) {
  return _mm256_add_ps(a, b);
}
inline __m256 sub(__m256 a, __m256 b) {
  return _mm256_sub_ps(a, b);
}
inline __m256 fma(__m256 a, __m256 b, __m256 c) {
  return _mm256_fmadd_ps(a, b, c);
}  // a * b + c
inline __m256 fnma(__m256 a, __m256 b, __m256 c) {
  return _mm256_fnmadd_ps(a, b, c);
}  // c - a * b

// ---- 1D transforms over 8 tiles at once (one ymm per element) ----
template <int M>
struct Wino;

// F(4,3), points 0, 1, -1, 2, -2, inf.
template <>
struct Wino<4> {
  static constexpr int kT = 6;
  // B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
  static void bt(const __m256* d, __m256* o) {
    const __m256 c2 = set1(2.0f), c4 = set1(4.0f), c5 = set1(5.0f);
    o[0] = fnma(c5, d[2], fma(c4, d[0], d[4]));
    const __m256 t1 = fnma(c4, d[2], d[4]), t2 = fnma(c4, d[1], d[3]);
    o[1] = add(t1, t2);
    o[2] = sub(t1, t2);
    const __m256 t3 = sub(d[4], d[2]), t4 = sub(d[3], d[1]);
    o[3] = fma(c2, t4, t3);
    o[4] = fnma(c2, t4, t3);
    o[5] = fnma(c5, d[3], fma(c4, d[1], d[5]));
  }
  // A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
  static void at(const __m256* m, __m256* y) {
    const __m256 a = add(m[1], m[2]), b = sub(m[1], m[2]), c = add(m[3], m[4]), e = sub(m[3], m[4]);
    y[0] = add(add(m[0], a), c);
    y[1] = fma(set1(2.0f), e, b);
    y[2] = fma(set1(4.0f), c, a);
    y[3] = add(fma(set1(8.0f), e, b), m[5]);
  }
};

// F(6,3), points 0, 1, -1, 2, -2, 1/2, -1/2, inf (row 0 of B^T negated, matching G).
template <>
struct Wino<6> {
  static constexpr int kT = 8;
  // B^T rows: [1 0 -21/4 0 21/4 0 -1 0], [0 1 1 -17/4 -17/4 1 1 0], [0 -1 1 17/4 -17/4 -1 1 0],
  // [0 1/2 1/4 -5/2 -5/4 2 1 0], [0 -1/2 1/4 5/2 -5/4 -2 1 0], [0 2 4 -5/2 -5 1/2 1 0],
  // [0 -2 4 5/2 -5 -1/2 1 0], [0 -1 0 21/4 0 -21/4 0 1]
  static void bt(const __m256* d, __m256* o) {
    const __m256 c525 = set1(5.25f), c425 = set1(4.25f);
    o[0] = fma(c525, sub(d[4], d[2]), sub(d[0], d[6]));
    o[7] = fma(c525, sub(d[3], d[5]), sub(d[7], d[1]));
    const __m256 e1 = fnma(c425, d[4], add(d[2], d[6]));
    const __m256 o1 = fnma(c425, d[3], add(d[1], d[5]));
    o[1] = add(e1, o1);
    o[2] = sub(e1, o1);
    const __m256 e2 = fnma(set1(1.25f), d[4], fma(set1(0.25f), d[2], d[6]));
    const __m256 o2 = fma(set1(2.0f), d[5], fnma(set1(2.5f), d[3], _mm256_mul_ps(set1(0.5f), d[1])));
    o[3] = add(e2, o2);
    o[4] = sub(e2, o2);
    const __m256 e3 = fnma(set1(5.0f), d[4], fma(set1(4.0f), d[2], d[6]));
    const __m256 o3 = fma(set1(0.5f), d[5], fnma(set1(2.5f), d[3], _mm256_mul_ps(set1(2.0f), d[1])));
    o[5] = add(e3, o3);
    o[6] = sub(e3, o3);
  }
  // A^T row p = (0^p, 1, (-1)^p, 2^p, (-2)^p, 2^-p, (-1/2)^p, [p == 5])
  static void at(const __m256* m, __m256* y) {
    const __m256 a1 = add(m[1], m[2]), b1 = sub(m[1], m[2]);
    const __m256 a2 = add(m[3], m[4]), b2 = sub(m[3], m[4]);
    const __m256 a3 = add(m[5], m[6]), b3 = sub(m[5], m[6]);
    y[0] = add(add(m[0], a1), add(a2, a3));
    y[1] = fma(set1(0.5f), b3, fma(set1(2.0f), b2, b1));
    y[2] = fma(set1(0.25f), a3, fma(set1(4.0f), a2, a1));
    y[3] = fma(set1(0.125f), b3, fma(set1(8.0f), b2, b1));
    y[4] = fma(set1(0.0625f), a3, fma(set1(16.0f), a2, a1));
    y[5] = add(fma(set1(0.03125f), b3, fma(set1(32.0f), b2, b1)), m[7]);
  }
};

// In-lane 4x4 transpose of r[0..3] (each 128-bit half separately).
inline void transpose4(__m256& r0, __m256& r1, __m256& r2, __m256& r3) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  r0 = _mm256_shuffle_ps(t0, t2, 0x44);
  r1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  r2 = _mm256_shuffle_ps(t1, t3, 0x44);
  r3 = _mm256_shuffle_ps(t1, t3, 0xEE);
}

inline __m256 load2(const float* lo, const float* hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1);
}

// Two floats of tiles (a, b) in the low half and (c, d) in the high half: [a0 a1 b0 b1 | c0 c1 d0 d1].
inline __m256 load_pairs(const float* a, const float* b, const float* c, const float* d) {
  const __m128 lo = _mm_loadh_pi(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(a)),
                                 reinterpret_cast<const __m64*>(b));
  const __m128 hi = _mm_loadh_pi(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(c)),
                                 reinterpret_cast<const __m64*>(d));
  return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

inline void store_pairs(__m256 v, float* a, float* b, float* c, float* d) {
  const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  _mm_storel_pi(reinterpret_cast<__m64*>(a), lo);
  _mm_storeh_pi(reinterpret_cast<__m64*>(b), lo);
  _mm_storel_pi(reinterpret_cast<__m64*>(c), hi);
  _mm_storeh_pi(reinterpret_cast<__m64*>(d), hi);
}

// Row `off` (floats from each tile origin) of 8 tiles -> d[c] = element c of the row of tiles 0..7 (lane order
// 0 1 2 3 | 4 5 6 7). Reads 8 floats per tile row (for m = 4 the last 2 are ignored).
template <int M>
inline void load_row(const float* const* src, std::ptrdiff_t off, __m256* d) {
  d[0] = load2(src[0] + off, src[4] + off);
  d[1] = load2(src[1] + off, src[5] + off);
  d[2] = load2(src[2] + off, src[6] + off);
  d[3] = load2(src[3] + off, src[7] + off);
  transpose4(d[0], d[1], d[2], d[3]);
  if constexpr (M == 6) {
    d[4] = load2(src[0] + off + 4, src[4] + off + 4);
    d[5] = load2(src[1] + off + 4, src[5] + off + 4);
    d[6] = load2(src[2] + off + 4, src[6] + off + 4);
    d[7] = load2(src[3] + off + 4, src[7] + off + 4);
    transpose4(d[4], d[5], d[6], d[7]);
  } else {
    const __m256 p = load_pairs(src[0] + off + 4, src[1] + off + 4, src[4] + off + 4, src[5] + off + 4);
    const __m256 q = load_pairs(src[2] + off + 4, src[3] + off + 4, src[6] + off + 4, src[7] + off + 4);
    d[4] = _mm256_shuffle_ps(p, q, 0x88);  // (2,0,2,0)
    d[5] = _mm256_shuffle_ps(p, q, 0xDD);  // (3,1,3,1)
  }
}

// Cache lines to prefetch (pf + lines[0 .. n)) while a group is transformed, spread over its rows.
struct Prefetch {
  const float* pf;
  const std::ptrdiff_t* lines;
  int n;
};

// V[pos][.][8 tiles] = B^T d B for the 8 tiles whose t x t input patches start at src[k] (row pitch `pitch`).
template <int M>
void input_group(const float* const* src, std::ptrdiff_t pitch, float* v, std::size_t pos_stride, Prefetch pre) {
  constexpr int T = Wino<M>::kT;
  __m256 tmp[T * T];
  for (int r = 0; r < T; ++r) {
    for (int l = r * pre.n / T; l < (r + 1) * pre.n / T; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(pre.pf + pre.lines[l]), _MM_HINT_T0);
    __m256 d[T];
    load_row<M>(src, r * pitch, d);
    Wino<M>::bt(d, tmp + r * T);
  }
  for (int j = 0; j < T; ++j) {
    __m256 d[T], o[T];
    for (int r = 0; r < T; ++r) d[r] = tmp[r * T + j];
    Wino<M>::bt(d, o);
    for (int i = 0; i < T; ++i) _mm256_store_ps(v + std::size_t(i * T + j) * pos_stride, o[i]);
  }
}

// c[o][j] (+)= sum_k u[k * 4 + o] * v[k * kBlockTiles + 8 j]; m[o * kBlockTiles + 8 j] = c[o][j].
// Intrinsics version for the tails (8 or 16 tiles).
template <int NV>
void gemm_4xn(const float* v, const float* u, int kc, float* m, bool accumulate) {
  __m256 c[kOcb][NV];
  for (int o = 0; o < kOcb; ++o)
    for (int j = 0; j < NV; ++j)
      c[o][j] = accumulate ? _mm256_load_ps(m + o * kBlockTiles + 8 * j) : _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    __m256 x[NV];
    for (int j = 0; j < NV; ++j) x[j] = _mm256_load_ps(v + 8 * j);
    for (int o = 0; o < kOcb; ++o) {
      const __m256 b = _mm256_broadcast_ss(u + o);
      for (int j = 0; j < NV; ++j) c[o][j] = fma(b, x[j], c[o][j]);
    }
    v += kBlockTiles;
    u += kOcb;
  }
  for (int o = 0; o < kOcb; ++o)
    for (int j = 0; j < NV; ++j) _mm256_store_ps(m + o * kBlockTiles + 8 * j, c[o][j]);
}

// The hot 4 oc x 24 tiles block in inline assembly (compilers spill the 12 accumulators): ymm0-11 accumulate,
// ymm12-14 hold one input channel's 24 tiles, ymm15 the broadcast weight; two input channels per iteration.
static_assert(kBlockTiles == 48, "the assembly below hard-codes the V / M row stride of 192 bytes");
#define RESR_WG_STEP(V, U)                    \
  "vmovaps " V                                \
  "+0(%[v]), %%ymm12\n\t"                     \
  "vmovaps " V                                \
  "+32(%[v]), %%ymm13\n\t"                    \
  "vmovaps " V                                \
  "+64(%[v]), %%ymm14\n\t"                    \
  "vbroadcastss " U                           \
  "+0(%[u]), %%ymm15\n\t"                     \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm0\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm1\n\t"  \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n\t"  \
  "vbroadcastss " U                           \
  "+4(%[u]), %%ymm15\n\t"                     \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm3\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm4\n\t"  \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm5\n\t"  \
  "vbroadcastss " U                           \
  "+8(%[u]), %%ymm15\n\t"                     \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"  \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n\t"  \
  "vbroadcastss " U                           \
  "+12(%[u]), %%ymm15\n\t"                    \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm9\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm10\n\t" \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm11\n\t"

#define RESR_WG_LOAD_ACC           \
  "vmovaps 0(%[m]), %%ymm0\n\t"    \
  "vmovaps 32(%[m]), %%ymm1\n\t"   \
  "vmovaps 64(%[m]), %%ymm2\n\t"   \
  "vmovaps 192(%[m]), %%ymm3\n\t"  \
  "vmovaps 224(%[m]), %%ymm4\n\t"  \
  "vmovaps 256(%[m]), %%ymm5\n\t"  \
  "vmovaps 384(%[m]), %%ymm6\n\t"  \
  "vmovaps 416(%[m]), %%ymm7\n\t"  \
  "vmovaps 448(%[m]), %%ymm8\n\t"  \
  "vmovaps 576(%[m]), %%ymm9\n\t"  \
  "vmovaps 608(%[m]), %%ymm10\n\t" \
  "vmovaps 640(%[m]), %%ymm11\n\t"

#define RESR_WG_STORE_ACC          \
  "vmovaps %%ymm0, 0(%[m])\n\t"    \
  "vmovaps %%ymm1, 32(%[m])\n\t"   \
  "vmovaps %%ymm2, 64(%[m])\n\t"   \
  "vmovaps %%ymm3, 192(%[m])\n\t"  \
  "vmovaps %%ymm4, 224(%[m])\n\t"  \
  "vmovaps %%ymm5, 256(%[m])\n\t"  \
  "vmovaps %%ymm6, 384(%[m])\n\t"  \
  "vmovaps %%ymm7, 416(%[m])\n\t"  \
  "vmovaps %%ymm8, 448(%[m])\n\t"  \
  "vmovaps %%ymm9, 576(%[m])\n\t"  \
  "vmovaps %%ymm10, 608(%[m])\n\t" \
  "vmovaps %%ymm11, 640(%[m])\n\t"

void gemm_4x3(const float* v, const float* u, int kc, float* m, bool accumulate) {
  std::ptrdiff_t pairs = kc / 2;
  const std::ptrdiff_t odd = kc & 1, acc = accumulate ? 1 : 0;
  asm volatile(
      "test %[acc], %[acc]\n\t"
      "jz 2f\n\t"
      RESR_WG_LOAD_ACC
      "jmp 3f\n"
      "2:\n\t"
      "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
      "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
      "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"
      "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
      "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
      "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
      "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
      "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
      "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
      "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
      "vxorps %%ymm11, %%ymm11, %%ymm11\n"
      "3:\n\t"
      "test %[odd], %[odd]\n\t"
      "jz 4f\n\t"
      RESR_WG_STEP("0", "0")
      "add $192, %[v]\n\t"
      "add $16, %[u]\n"
      "4:\n\t"
      "test %[n], %[n]\n\t"
      "jz 6f\n\t"
      ".p2align 4\n"
      "5:\n\t"
      RESR_WG_STEP("0", "0")
      RESR_WG_STEP("192", "16")
      "add $384, %[v]\n\t"
      "add $32, %[u]\n\t"
      "dec %[n]\n\t"
      "jnz 5b\n"
      "6:\n\t"
      RESR_WG_STORE_ACC
      : [v] "+r"(v), [u] "+r"(u), [n] "+r"(pairs)
      : [m] "r"(m), [odd] "r"(odd), [acc] "r"(acc)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

#undef RESR_WG_STEP
#undef RESR_WG_LOAD_ACC
#undef RESR_WG_STORE_ACC

using TileInfo = WinogradTile;

struct Epi {
  __m256 bias, slope, scale;
  bool act, scaled;
};

struct Scratch {
  AlignedBuffer v, m, patch;
  std::vector<std::ptrdiff_t> lines;  // input cache lines of the block's fast groups (run_block)
};

float* ensure(AlignedBuffer& b, std::size_t n) {
  if (b.size() < n) b = AlignedBuffer(n);
  return b.data();
}

template <int M>
struct Kernel {
  static constexpr int T = Wino<M>::kT;
  static constexpr int P = T * T;

  const PackedWinograd& w;
  const PaddedPlanes& in;
  const PaddedPlanes& out;
  const ConvEpilogue& ep;
  const std::vector<TileInfo>& tiles;
  int kc_max;

  void run_block(int t0, Scratch& s) const {
    const int ntiles = int(tiles.size());
    const int nt = std::min(kBlockTiles, ntiles - t0);
    const int ng = (nt + 7) / 8;
    const int nb = w.oc_blocks(), ocp = nb * kOcb, ic = w.ic;
    // Floats per position in V and M, plus one cache line: the transforms touch all positions at once, and
    // strides that are multiples of 4 KB would map them all to the same L1 set.
    const std::size_t vstride = std::size_t(kc_max) * kBlockTiles + 16;
    const std::size_t mstride = std::size_t(ocp) * kBlockTiles + 16;
    float* v = ensure(s.v, P * vstride);
    float* mb = ensure(s.m, P * mstride);
    float* patch = ensure(s.patch, 8 * 64);
    const std::ptrdiff_t pitch = in.geo.pitch();
    const std::size_t plane = in.geo.plane_stride();
    bool fast[kBlockTiles / 8];  // group of 8 tiles all full (read straight from the planes)
    for (int g = 0; g < ng; ++g) {
      const TileInfo* tg = tiles.data() + t0 + 8 * g;
      const int cnt = std::min(8, ntiles - (t0 + 8 * g));
      fast[g] = cnt == 8;
      for (int k = 0; k < cnt && fast[g]; ++k) fast[g] = tg[k].full;
    }

    // The cache lines (offsets in a plane, 64-byte aligned) each fast group reads, prefetched one channel ahead:
    // the patches of one channel are 8 short row segments per tile row, too scattered for the hardware prefetcher
    // (as in the AVX-512 kernel). Measured in x4fast at 256x256 (2 threads, AVX2 kernels forced, interleaved
    // runs): 369-378 ms against 406-417 ms without. The AVX-512 kernel's other two measures, the GEMM and output
    // transform per oc block and prefetching the output lines for writing, measured no faster and 25% slower
    // there, so this kernel keeps its position-major order.
    std::size_t lbeg[kBlockTiles / 8 + 1] = {0};
    s.lines.clear();
    for (int g = 0; g < ng; ++g) {
      if (fast[g]) {
        const TileInfo* tg = tiles.data() + t0 + 8 * g;
        for (int r = 0; r < T; ++r) {
          std::ptrdiff_t last = -1;
          for (int k = 0; k < 8; ++k)
            for (const int c : {0, T - 1}) {
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
      // Channel-major, then groups in tile order: consecutive groups read adjacent row segments of one plane.
      for (int kk = 0; kk < kc; ++kk) {
        const float* base = in.data + (c0 + kk) * plane;
        const float* next = c0 + kk + 1 < ic ? base + plane : nullptr;
        for (int g = 0; g < ng; ++g) {
          const TileInfo* tg = tiles.data() + t0 + 8 * g;
          const int cnt = std::min(8, ntiles - (t0 + 8 * g));
          const Prefetch pre{next, lines + lbeg[g], next != nullptr ? int(lbeg[g + 1] - lbeg[g]) : 0};
          const float* src[8];
          std::ptrdiff_t sp = pitch;
          if (fast[g]) {
            for (int k = 0; k < 8; ++k) src[k] = base + tg[k].in_off;
          } else {
            fill_patch(base, tg, cnt, pitch, patch);
            for (int k = 0; k < 8; ++k) src[k] = patch + k * 64;
            sp = 8;
          }
          input_group<M>(src, sp, v + std::size_t(kk) * kBlockTiles + 8 * g, vstride, pre);
        }
      }
      const int ntp = ng * 8;
      for (int p = 0; p < P; ++p) {
        const float* vp = v + p * vstride;
        const float* up = w.weights.data() + std::size_t(p) * nb * ic * kOcb;
        float* mp = mb + p * mstride;
        for (int b = 0; b < nb; ++b) {
          const float* ub = up + (std::size_t(b) * ic + c0) * kOcb;
          float* mo = mp + std::size_t(b) * kOcb * kBlockTiles;
          int t = 0;
          for (; t + kGemmTiles <= ntp; t += kGemmTiles) gemm_4x3(vp + t, ub, kc, mo + t, c0 > 0);
          if (ntp - t == 16) gemm_4xn<2>(vp + t, ub, kc, mo + t, c0 > 0);
          if (ntp - t == 8) gemm_4xn<1>(vp + t, ub, kc, mo + t, c0 > 0);
        }
      }
    }

    for (int g = 0; g < ng; ++g) {
      const TileInfo* tg = tiles.data() + t0 + 8 * g;
      const int cnt = std::min(8, ntiles - (t0 + 8 * g));
      for (int o = 0; o < w.oc; ++o)
        output_group(mb + std::size_t(o) * kBlockTiles + 8 * g, mstride, tg, cnt, fast[g], o);
    }
    zero_winograd_ring_of_tiles(out, tiles.data() + t0, nt, 0, w.oc);
  }

  // Edge groups: patch[k][r][c] (8 x 8 per tile) = the tile's input patch, zero outside the padded plane.
  static void fill_patch(const float* base, const TileInfo* tg, int cnt, std::ptrdiff_t pitch, float* patch) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int k = 0; k < 8; ++k) {
      const int rows = k < cnt ? tg[k].in_rows : 0;
      const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(k < cnt ? tg[k].in_cols : 0), iota);
      for (int r = 0; r < 8; ++r) {
        const __m256 x = r < rows ? _mm256_maskload_ps(base + tg[k].in_off + r * pitch, mask) : _mm256_setzero_ps();
        _mm256_store_ps(patch + k * 64 + r * 8, x);
      }
    }
  }

  void output_group(const float* m, std::size_t pos_stride, const TileInfo* tg, int cnt, bool fast, int o) const {
    Epi e;
    e.bias = set1(ep.bias != nullptr ? ep.bias[o] : 0.0f);
    e.act = ep.act != Activation::kNone;
    e.slope = set1(ep.act == Activation::kPrelu ? ep.prelu_slopes[o] : ep.leaky_slope);
    e.scaled = ep.out_scale != 1.0f;
    e.scale = set1(ep.out_scale);
    const __m256 rs = set1(ep.residual_scale);
    const std::ptrdiff_t pitch = out.geo.pitch();
    float* dplane = out.plane(o);
    const float* rplane = ep.residual != nullptr ? ep.residual->plane(o) : nullptr;

    __m256 tmp[M * T];
    for (int j = 0; j < T; ++j) {
      __m256 d[T], z[M];
      for (int i = 0; i < T; ++i) d[i] = _mm256_load_ps(m + std::size_t(i * T + j) * pos_stride);
      Wino<M>::at(d, z);
      for (int p = 0; p < M; ++p) tmp[p * T + j] = z[p];
    }
    for (int p = 0; p < M; ++p) {
      __m256 y[8];
      Wino<M>::at(tmp + p * T, y);
      for (int q = 0; q < M; ++q) {
        __m256 x = add(y[q], e.bias);
        if (e.act) x = _mm256_blendv_ps(x, _mm256_mul_ps(x, e.slope), x);
        if (e.scaled) x = _mm256_mul_ps(x, e.scale);
        y[q] = x;
      }
      if (fast) {
        float* dst[8];
        const float* res[8];
        for (int k = 0; k < 8; ++k) {
          dst[k] = dplane + tg[k].out_off + p * pitch;
          res[k] = rplane != nullptr ? rplane + tg[k].out_off + p * pitch : nullptr;
        }
        transpose4(y[0], y[1], y[2], y[3]);  // y[k] = [tile k q0..3 | tile k+4 q0..3]
        for (int k = 0; k < 4; ++k) {
          if (rplane != nullptr) y[k] = fma(rs, load2(res[k], res[k + 4]), y[k]);
          _mm_storeu_ps(dst[k], _mm256_castps256_ps128(y[k]));
          _mm_storeu_ps(dst[k + 4], _mm256_extractf128_ps(y[k], 1));
        }
        if constexpr (M == 6) {
          __m256 u = _mm256_unpacklo_ps(y[4], y[5]);  // [t0 q4 q5, t1 q4 q5 | t4 .., t5 ..]
          __m256 x = _mm256_unpackhi_ps(y[4], y[5]);  // [t2 .., t3 .. | t6 .., t7 ..]
          if (rplane != nullptr) {
            u = fma(rs, load_pairs(res[0] + 4, res[1] + 4, res[4] + 4, res[5] + 4), u);
            x = fma(rs, load_pairs(res[2] + 4, res[3] + 4, res[6] + 4, res[7] + 4), x);
          }
          store_pairs(u, dst[0] + 4, dst[1] + 4, dst[4] + 4, dst[5] + 4);
          store_pairs(x, dst[2] + 4, dst[3] + 4, dst[6] + 4, dst[7] + 4);
        }
      } else {
        alignas(32) float buf[M][8];
        for (int q = 0; q < M; ++q) _mm256_store_ps(buf[q], y[q]);
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

template <int M>
void run(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep) {
  check_conv3x3_winograd_args(w, in, out, ep);
  RESR_ASSERT(w.m == M);
  const int h = out.geo.h, wd = out.geo.w;
  if (h == 0 || wd == 0) return;
  const std::vector<TileInfo> tiles = make_winograd_tiles(h, wd, M);
  const int nblocks = int((tiles.size() + kBlockTiles - 1) / kBlockTiles);
  const int chunks = (w.ic + kMaxChunk - 1) / kMaxChunk;
  const Kernel<M> k{w, in, out, ep, tiles, (w.ic + chunks - 1) / chunks};
  const double work = double(tiles.size()) * w.ic * w.oc;
#pragma omp parallel if (nblocks > 1 && work > kWinogradParallelWork)
  {
    thread_local Scratch scratch;
#pragma omp for schedule(dynamic, 1) nowait
    for (int b = 0; b < nblocks; ++b) k.run_block(b * kBlockTiles, scratch);
  }
}

}  // namespace

void conv3x3_winograd43_f32_avx2(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep) {
  run<4>(w, in, out, ep);
}

void conv3x3_winograd63_f32_avx2(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep) {
  run<6>(w, in, out, ep);
}

}  // namespace resr::cpu
