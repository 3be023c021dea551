// conv3x3_winograd: weight transform U = G g G^T (in double) and packing for the Winograd kernels, argument
// checks, and the measured per-shape algorithm choice. G comes from Toom-Cook interpolation at the points
// 0, 1, -1, 2, -2 (F(4,3)) and 0, 1, -1, 2, -2, 1/2, -1/2 (F(6,3)) plus infinity: row k = (1, x_k, x_k^2) / N_k,
// N_k = prod_{l != k} (x_k - x_l); the matching B^T and A^T live in x86/conv3x3_winograd_f32_avx{2,512}.cpp.
// Also the tile list and ring zeroing shared by the kernels.
#include "backends/cpu/conv3x3_winograd.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/status.h"

namespace resr::cpu {
namespace {

constexpr double kG4[6][3] = {
    {1.0 / 4, 0.0, 0.0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0.0, 0.0, 1.0},
};

// Row 0 is negated with respect to the textbook N_0 = -1 (and so is row 0 of B^T), so that both are positive.
constexpr double kG6[8][3] = {
    {1.0, 0.0, 0.0},
    {-2.0 / 9, -2.0 / 9, -2.0 / 9},
    {-2.0 / 9, 2.0 / 9, -2.0 / 9},
    {1.0 / 90, 1.0 / 45, 2.0 / 45},
    {1.0 / 90, -1.0 / 45, 2.0 / 45},
    {32.0 / 45, 16.0 / 45, 8.0 / 45},
    {32.0 / 45, -16.0 / 45, 8.0 / 45},
    {0.0, 0.0, 1.0},
};

template <int M>
constexpr const double (&winograd_g())[M + 2][3] {
  if constexpr (M == 4) {
    return kG4;
  } else {
    return kG6;
  }
}

// U = G g G^T at the (M + 2)^2 transform positions of one 3x3 kernel g, in double. M is a template argument so
// that G is constant and the loops unroll: the transform is most of a model's compile (x4plus: 1.86M kernels).
template <int M>
void transform_kernel(const float* g, double (&u)[(M + 2) * (M + 2)]) {
  constexpr int kT = M + 2;
  constexpr const double(&kG)[kT][3] = winograd_g<M>();
  double tmp[kT][3];  // G g
  for (int i = 0; i < kT; ++i)
    for (int kx = 0; kx < 3; ++kx) {
      double s = 0.0;
      for (int ky = 0; ky < 3; ++ky) s += kG[i][ky] * double(g[ky * 3 + kx]);
      tmp[i][kx] = s;
    }
  for (int i = 0; i < kT; ++i)
    for (int j = 0; j < kT; ++j) {
      double s = 0.0;
      for (int kx = 0; kx < 3; ++kx) s += tmp[i][kx] * kG[j][kx];
      u[i * kT + j] = s;
    }
}

// Both packings: output channels in blocks of `Block`, each (pos, block) an [ic][lane] slice at p.slice(pos,
// block), padding outputs zero. A block's kernels are transformed into a staging buffer in the order they are
// computed ([ic][pos][lane]), then copied to the packed layout in its own order, one sequential stream: stores
// scattered over the fresh packed buffer, each the first touch of its cache line, took most of a compile.
template <int M, class Packed, int Block>
void pack_winograd_m(const float* weights, Packed& p) {
  constexpr int kP = (M + 2) * (M + 2);
  const int oc = p.oc, ic = p.ic;
  float* const dst = p.weights.data();
  std::vector<float> staged(std::size_t(ic) * kP * Block);
  double u[kP];
  for (int b = 0; b < p.oc_blocks(); ++b) {
    const int lanes = std::min(Block, oc - b * Block);
    if (lanes < Block) std::fill(staged.begin(), staged.end(), 0.0f);  // the padding lanes: zero
    for (int c = 0; c < ic; ++c)
      for (int l = 0; l < lanes; ++l) {
        transform_kernel<M>(weights + (std::size_t(b * Block + l) * ic + c) * 9, u);
        float* const at = staged.data() + std::size_t(c) * kP * Block + l;
        for (int pos = 0; pos < kP; ++pos) at[std::size_t(pos) * Block] = float(u[pos]);
      }
    for (int pos = 0; pos < kP; ++pos) {
      float* const out = dst + p.slice(pos, b);
      for (int c = 0; c < ic; ++c)
        std::memcpy(out + std::size_t(c) * Block, staged.data() + (std::size_t(c) * kP + pos) * Block,
                    Block * sizeof(float));
    }
  }
}

template <class Packed, int Block>
Packed pack_winograd(const float* weights, int oc, int ic, int m) {
  RESR_ASSERT(oc > 0 && ic > 0 && weights != nullptr && (m == 4 || m == 6));
  Packed p;
  p.ic = ic;
  p.oc = oc;
  p.m = m;
  const int nb = p.oc_blocks();
  p.weights = decltype(p.weights)(std::size_t(p.positions()) * nb * ic * Block);  // zero-filled padding
  if (m == 4) {
    pack_winograd_m<4, Packed, Block>(weights, p);
  } else {
    pack_winograd_m<6, Packed, Block>(weights, p);
  }
  return p;
}

}  // namespace

PackedWinograd pack_conv3x3_winograd_f32(const float* weights, int oc, int ic, int m) {
  return pack_winograd<PackedWinograd, kWinogradOcBlock>(weights, oc, ic, m);
}

PackedWinogradOc8 pack_conv3x3_winograd_oc8_f32(const float* weights, int oc, int ic, int m) {
  return pack_winograd<PackedWinogradOc8, kWinogradOcBlock8>(weights, oc, ic, m);
}

PackedWinogradOc8Bf16 pack_conv3x3_winograd_oc8_bf16(const float* weights, int oc, int ic, int m) {
  // Pack in fp32 (one layer, transiently) and round: one transform code path for every storage.
  const PackedWinogradOc8 f = pack_conv3x3_winograd_oc8_f32(weights, oc, ic, m);
  PackedWinogradOc8Bf16 p;
  p.ic = ic;
  p.oc = oc;
  p.m = m;
  p.weights =
      AlignedArray<std::uint32_t>(std::size_t(p.positions()) * p.oc_blocks() * p.ic_pairs() * kWinogradOcBlock8);
  for (int b = 0; b < p.oc_blocks(); ++b)
    for (int pos = 0; pos < p.positions(); ++pos) {
      const float* src = f.weights.data() + f.slice(pos, b);
      std::uint32_t* dst = p.weights.data() + p.slice(pos, b);
      for (int c = 0; c < ic; ++c)
        for (int lane = 0; lane < kWinogradOcBlock8; ++lane) {
          const std::uint32_t half = float_to_bf16(src[std::size_t(c) * kWinogradOcBlock8 + lane]);
          dst[std::size_t(c / 2) * kWinogradOcBlock8 + lane] |= c % 2 == 0 ? half : half << 16;
        }
    }
  return p;
}

void check_conv3x3_winograd_args(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep) {
  check_conv3x3_shapes(w.ic, w.oc, in, out, ep);
}

void check_conv3x3_winograd_args(const PackedWinogradOc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep) {
  check_conv3x3_shapes(w.ic, w.oc, in, out, ep);
}

void check_conv3x3_winograd_args(const PackedWinogradOc8F16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep) {
  check_conv3x3_shapes(w.ic, w.oc, in, out, ep);
}

void check_conv3x3_winograd_args(const PackedWinogradOc8Bf16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep) {
  check_conv3x3_shapes(w.ic, w.oc, in, out, ep);
}

bool cpu_has_avx512_bf16() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  return cpu_has_avx512f() && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

bool cpu_has_avx512f_f16c() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  // F16C is CPUID.1:ECX bit 29 (read directly: clang's __builtin_cpu_supports does not know "f16c").
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && ((ecx >> 29) & 1u) != 0;
  return cpu_has_avx512f() && f16c;
#else
  return false;
#endif
}

std::vector<WinogradTile> make_winograd_tiles(int h, int wd, int m) {
  const int pitch = wd + 2, t = m + 2;
  const int ty_n = (h + m - 1) / m, tx_n = (wd + m - 1) / m;
  std::vector<WinogradTile> full, edge;
  full.reserve(std::size_t(ty_n) * tx_n);
  for (int ty = 0; ty < ty_n; ++ty) {
    for (int tx = 0; tx < tx_n; ++tx) {
      WinogradTile ti;
      ti.in_off = std::ptrdiff_t(ty) * m * pitch + std::ptrdiff_t(tx) * m;
      ti.out_off = std::ptrdiff_t(ty * m + 1) * pitch + tx * m + 1;
      ti.in_rows = std::min(t, h + 2 - ty * m);
      ti.in_cols = std::min(t, wd + 2 - tx * m);
      ti.out_rows = std::min(m, h - ty * m);
      ti.out_cols = std::min(m, wd - tx * m);
      ti.full = ti.out_rows == m && ti.out_cols == m;
      (ti.full ? full : edge).push_back(ti);
    }
  }
  full.insert(full.end(), edge.begin(), edge.end());
  return full;
}

void zero_winograd_ring_of_tiles(const PaddedPlanes& out, const WinogradTile* tiles, int count, int oc_begin,
                                 int oc_end) {
  const int h = out.geo.h, wd = out.geo.w;
  const std::ptrdiff_t pitch = out.geo.pitch();
  const std::size_t stride = out.geo.plane_stride(), bottom = std::size_t(h + 1) * pitch;
  for (int t = 0; t < count; ++t) {
    const WinogradTile& ti = tiles[t];
    const std::ptrdiff_t row0 = ti.out_off / pitch, col0 = ti.out_off % pitch;
    const bool left = col0 == 1, right = col0 - 1 + ti.out_cols == wd;
    if (!left && !right) continue;
    const bool top = row0 == 1, last = row0 - 1 + ti.out_rows == h;
    for (int o = oc_begin; o < oc_end; ++o) {
      float* d = out.plane(o);
      for (std::ptrdiff_t y = row0; y < row0 + ti.out_rows; ++y) {
        if (left) d[y * pitch] = 0.0f;
        if (right) d[y * pitch + wd + 1] = 0.0f;
      }
      if (top && left) std::memset(d, 0, std::size_t(pitch) * sizeof(float));
      if (last && right) std::memset(d + bottom, 0, (stride - bottom) * sizeof(float));
    }
  }
}

// bench_conv3x3, single-thread CPU time on 2-core Zen (AVX2 path): winograd63 is fastest for every shape with
// ic, oc >= 32 at 64..512 pixels square (2.2-3.1x the FMA peak in direct-equivalent GFLOP/s, winograd43 5-15%
// behind); with oc = 3 the 4-wide oc blocks waste 25% and nothing beats direct; with ic = 3, winograd43 wins
// at <= 128x128 (0.49 vs 0.74 ms at 128x128) and winograd63 above.
const char* conv3x3_choose_algo(int ic, int oc, int h, int w) {
  if (oc < 8) return "direct";
  if (ic < 8) return std::int64_t(h) * w <= 128 * 128 ? "winograd43" : "winograd63";
  return "winograd63";
}

}  // namespace resr::cpu
