// conv3x3_direct_f32_avx2: direct 3x3 convolution over the flat index range of rows 1..H of each padded
// plane (the 9 taps are fixed offsets (dy-1)*pitch + (dx-1), no border cases). Register block: 4 output
// channels x 3 ymm of 8 consecutive flat positions = 12 accumulators; per input channel and tap, 3 unaligned
// loads + 4 weight broadcasts + 12 FMAs. Cache blocking: for each block of 24 positions, input channels go in
// chunks small enough that the chunk's input rows stay in L1 while every oc block streams its weights past
// them (partial sums in a per-thread scratch). Positions on the ring columns (or past the last row) are masked
// to zero at the store, so the ring invariant holds without a second pass. OpenMP over flat tiles.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <omp.h>

#include "backends/cpu/conv3x3.h"

namespace resr::cpu {
namespace {

constexpr int kStep = 24;       // flat positions per register block (3 ymm)
constexpr int kAccFloats = 96;  // one oc block's partial sums: [4 oc][3 ymm][8]

struct EpilogueVecs {
  __m256 bias, slope;
};

// The hot 4 oc x 3 ymm block in inline assembly: compilers fold the input loads into the FMAs (4 loads per input
// vector instead of 1) and spill under the 16-register pressure; here ymm0-11 are the accumulators, ymm12-14
// the 3 input vectors of a tap, ymm15 the broadcast weight: 3 loads + 4 broadcasts + 12 FMAs per tap.
#define RESR_TAP(ROW, DX, T)                  \
  "vmovups " #DX "*4+0" ROW                   \
  ", %%ymm12\n\t"                             \
  "vmovups " #DX "*4+32" ROW                  \
  ", %%ymm13\n\t"                             \
  "vmovups " #DX "*4+64" ROW                  \
  ", %%ymm14\n\t"                             \
  "vbroadcastss " #T                          \
  "*16+0(%[w]), %%ymm15\n\t"                  \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm0\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm1\n\t"  \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n\t"  \
  "vbroadcastss " #T                          \
  "*16+4(%[w]), %%ymm15\n\t"                  \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm3\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm4\n\t"  \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm5\n\t"  \
  "vbroadcastss " #T                          \
  "*16+8(%[w]), %%ymm15\n\t"                  \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"  \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n\t"  \
  "vbroadcastss " #T                          \
  "*16+12(%[w]), %%ymm15\n\t"                 \
  "vfmadd231ps %%ymm12, %%ymm15, %%ymm9\n\t"  \
  "vfmadd231ps %%ymm13, %%ymm15, %%ymm10\n\t" \
  "vfmadd231ps %%ymm14, %%ymm15, %%ymm11\n\t"

#define RESR_ROW0 "(%[r])"
#define RESR_ROW1 "(%[r],%[p1],1)"
#define RESR_ROW2 "(%[r],%[p2],1)"

// acc[(o * 3 + v) * 8 + lane] += sum over ic input channels and taps for output o of the block, position src + 8 v +
// lane.
void accumulate_4x3(const float* src, std::size_t stride, int pitch, int ic, const float* wb, float* acc) {
  const float* r = src - pitch - 1;
  const std::ptrdiff_t p1 = std::ptrdiff_t(pitch) * 4, p2 = 2 * p1;
  const std::ptrdiff_t sb = std::ptrdiff_t(stride) * 4;
  std::ptrdiff_t n = ic;
  asm volatile(
      "vmovups 0(%[acc]), %%ymm0\n\t"
      "vmovups 32(%[acc]), %%ymm1\n\t"
      "vmovups 64(%[acc]), %%ymm2\n\t"
      "vmovups 96(%[acc]), %%ymm3\n\t"
      "vmovups 128(%[acc]), %%ymm4\n\t"
      "vmovups 160(%[acc]), %%ymm5\n\t"
      "vmovups 192(%[acc]), %%ymm6\n\t"
      "vmovups 224(%[acc]), %%ymm7\n\t"
      "vmovups 256(%[acc]), %%ymm8\n\t"
      "vmovups 288(%[acc]), %%ymm9\n\t"
      "vmovups 320(%[acc]), %%ymm10\n\t"
      "vmovups 352(%[acc]), %%ymm11\n\t"
      ".p2align 4\n"
      "1:\n\t"
      RESR_TAP(RESR_ROW0, 0, 0) RESR_TAP(RESR_ROW0, 1, 1) RESR_TAP(RESR_ROW0, 2, 2)
      RESR_TAP(RESR_ROW1, 0, 3) RESR_TAP(RESR_ROW1, 1, 4) RESR_TAP(RESR_ROW1, 2, 5)
      RESR_TAP(RESR_ROW2, 0, 6) RESR_TAP(RESR_ROW2, 1, 7) RESR_TAP(RESR_ROW2, 2, 8)
      "add %[sb], %[r]\n\t"
      "add $144, %[w]\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vmovups %%ymm0, 0(%[acc])\n\t"
      "vmovups %%ymm1, 32(%[acc])\n\t"
      "vmovups %%ymm2, 64(%[acc])\n\t"
      "vmovups %%ymm3, 96(%[acc])\n\t"
      "vmovups %%ymm4, 128(%[acc])\n\t"
      "vmovups %%ymm5, 160(%[acc])\n\t"
      "vmovups %%ymm6, 192(%[acc])\n\t"
      "vmovups %%ymm7, 224(%[acc])\n\t"
      "vmovups %%ymm8, 256(%[acc])\n\t"
      "vmovups %%ymm9, 288(%[acc])\n\t"
      "vmovups %%ymm10, 320(%[acc])\n\t"
      "vmovups %%ymm11, 352(%[acc])\n\t"
      : [r] "+r"(r), [w] "+r"(wb), [n] "+r"(n)
      : [p1] "r"(p1), [p2] "r"(p2), [sb] "r"(sb), [acc] "r"(acc)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

#undef RESR_TAP
#undef RESR_ROW0
#undef RESR_ROW1
#undef RESR_ROW2

// Intrinsics version for the last, partial oc block (1..3 outputs): acc[(o * 3 + v) * 8 + lane] += ...
template <int NOC>
void accumulate_tail(const float* src, std::size_t stride, int pitch, int ic, const float* wb, float* acc) {
  __m256 a[NOC][3];
  for (int o = 0; o < NOC; ++o)
    for (int v = 0; v < 3; ++v) a[o][v] = _mm256_loadu_ps(acc + (o * 3 + v) * 8);
  const float* r = src - pitch - 1;  // tap (0, 0) of position src
  for (int i = 0; i < ic; ++i) {
    for (int t = 0; t < 9; ++t) {
      const float* row = r + std::ptrdiff_t(t / 3) * pitch + t % 3;
      __m256 x[3];
      for (int v = 0; v < 3; ++v) x[v] = _mm256_loadu_ps(row + 8 * v);
      for (int o = 0; o < NOC; ++o) {
        const __m256 k = _mm256_broadcast_ss(wb + t * kConvOcBlock + o);
        for (int v = 0; v < 3; ++v) a[o][v] = _mm256_fmadd_ps(k, x[v], a[o][v]);
      }
    }
    r += stride;
    wb += 9 * kConvOcBlock;
  }
  for (int o = 0; o < NOC; ++o)
    for (int v = 0; v < 3; ++v) _mm256_storeu_ps(acc + (o * 3 + v) * 8, a[o][v]);
}

using AccumulateFn = void (*)(const float*, std::size_t, int, int, const float*, float*);

AccumulateFn accumulate_fn(int noc) {
  switch (noc) {
    case 1:
      return accumulate_tail<1>;
    case 2:
      return accumulate_tail<2>;
    case 3:
      return accumulate_tail<3>;
    default:
      return accumulate_4x3;
  }
}

struct StoreArgs {
  std::size_t stride;
  int pitch, end;
  const std::int32_t* ring_mask;  // [pitch + 8]: -1 where (j % pitch) is an interior column
  const ConvEpilogue* ep;
};

// Epilogue of `noc` outputs starting at out0 (residual at res0, or null) for positions p .. p + 23.
void store(const float* acc, int noc, const EpilogueVecs* ev, float* out0, const float* res0, int p,
           const StoreArgs& a) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 out_scale = _mm256_set1_ps(a.ep->out_scale);
  const __m256 res_scale = _mm256_set1_ps(a.ep->residual_scale);
  const bool act = a.ep->act != Activation::kNone;
  const bool scale = a.ep->out_scale != 1.0f;
  for (int v = 0; v < 3; ++v) {
    const int q = p + 8 * v;
    const __m256i in_ring = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.ring_mask + q % a.pitch));
    const __m256i before_end = _mm256_cmpgt_epi32(_mm256_set1_epi32(a.end - q), iota);
    const __m256 mask = _mm256_castsi256_ps(_mm256_and_si256(in_ring, before_end));
    for (int o = 0; o < noc; ++o) {
      __m256 x = _mm256_add_ps(_mm256_loadu_ps(acc + (o * 3 + v) * 8), ev[o].bias);
      if (act) x = _mm256_blendv_ps(x, _mm256_mul_ps(x, ev[o].slope), x);
      if (scale) x = _mm256_mul_ps(x, out_scale);
      if (res0 != nullptr) x = _mm256_fmadd_ps(res_scale, _mm256_loadu_ps(res0 + o * a.stride + q), x);
      _mm256_storeu_ps(out0 + o * a.stride + q, _mm256_and_ps(x, mask));
    }
  }
}

// Input channels per cache chunk: the chunk's rows for one 24-position block (~8 cache lines per channel) stay
// in L1 while every oc block's weights stream past them. Measured flat between 16 and 256 on Zen3 at ic <= 192.
int ic_chunk(int ic) {
  constexpr int kTarget = 64;
  const int chunks = (ic + kTarget - 1) / kTarget;
  return (ic + chunks - 1) / chunks;
}

}  // namespace

void conv3x3_direct_f32_avx2(const PackedConv3x3& w, const PaddedPlanes& in, const PaddedPlanes& out,
                             const ConvEpilogue& ep) {
  check_conv3x3_args(w, in, out, ep);
  const int h = out.geo.h, wd = out.geo.w, pitch = out.geo.pitch();
  if (h == 0 || wd == 0) return;
  const std::size_t stride = out.geo.plane_stride();
  const int start = pitch + 1;         // interior (0, 0)
  const int end = h * pitch + wd + 1;  // one past interior (h-1, w-1)
  const int len = end - start;

  std::vector<std::int32_t> ring_mask(std::size_t(pitch) + 8);
  for (int j = 0; j < pitch + 8; ++j) {
    const int c = j % pitch;
    ring_mask[j] = (c >= 1 && c <= wd) ? -1 : 0;
  }
  const int nblocks = w.oc_blocks();
  std::vector<EpilogueVecs> ev(std::size_t(nblocks) * kConvOcBlock);
  for (int o = 0; o < nblocks * kConvOcBlock; ++o) {
    const bool valid = o < w.oc;
    const float b = valid && ep.bias != nullptr ? ep.bias[o] : 0.0f;
    float s = 1.0f;
    if (ep.act == Activation::kLeakyRelu) s = ep.leaky_slope;
    if (ep.act == Activation::kPrelu) s = valid ? ep.prelu_slopes[o] : 0.0f;
    ev[o] = {_mm256_set1_ps(b), _mm256_set1_ps(s)};
  }
  const StoreArgs sa{stride, pitch, end, ring_mask.data(), &ep};

  // Tiles (multiples of 24 positions, so each output position is written exactly once: residual == out is
  // safe): a multiple of the thread count, several per thread, each at most ~1k positions.
  const int threads = std::max(1, omp_get_max_threads());
  const int want = (std::max(threads * 8, (len + 1023) / 1024) + threads - 1) / threads * threads;
  int tile = (len + want - 1) / want;
  tile = std::max(kStep, (tile + kStep - 1) / kStep * kStep);
  const int ntiles = (len + tile - 1) / tile;

  const float* in0 = in.data;
  const float* wts = w.weights.data();
  const int ic = w.ic, oc = w.oc;
  const int icb = ic_chunk(ic);
  const std::size_t wblock = std::size_t(ic) * 9 * kConvOcBlock;  // floats per oc block
#pragma omp parallel if (ntiles > 1 && std::size_t(len) * ic * oc > 200000)
  {
    std::vector<float> scratch(std::size_t(nblocks) * kAccFloats);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < ntiles; ++t) {
      const int p0 = start + t * tile;
      const int p1 = std::min(end, p0 + tile);
      for (int p = p0; p < p1; p += kStep) {
        std::fill(scratch.begin(), scratch.end(), 0.0f);
        for (int c0 = 0; c0 < ic; c0 += icb) {
          const int n = std::min(icb, ic - c0);
          const float* src = in0 + std::size_t(c0) * stride + p;
          for (int b = 0; b < nblocks; ++b) {
            const int noc = std::min(kConvOcBlock, oc - b * kConvOcBlock);
            accumulate_fn(noc)(src, stride, pitch, n, wts + b * wblock + std::size_t(c0) * 9 * kConvOcBlock,
                               scratch.data() + std::size_t(b) * kAccFloats);
          }
        }
        for (int b = 0; b < nblocks; ++b) {
          const int oc0 = b * kConvOcBlock;
          store(scratch.data() + std::size_t(b) * kAccFloats, std::min(kConvOcBlock, oc - oc0), &ev[oc0],
                out.plane(oc0), ep.residual != nullptr ? ep.residual->plane(oc0) : nullptr, p, sa);
        }
      }
    }
  }

  // Everything outside [start, end) was either never written or written as masked zeros; make it all zero.
  for (int o = 0; o < oc; ++o) {
    float* dst = out.plane(o);
    std::memset(dst, 0, std::size_t(start) * sizeof(float));
    std::memset(dst + end, 0, (stride - std::size_t(end)) * sizeof(float));
  }
}

}  // namespace resr::cpu
