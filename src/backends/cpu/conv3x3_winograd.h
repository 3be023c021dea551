// conv3x3_winograd: 3x3, stride 1, zero-padding 1 convolution on PaddedPlanes by Winograd minimal filtering
// (Lavin & Gray 2015, "Fast Algorithms for Convolutional Neural Networks"): F(4x4,3x3) on 6x6 input tiles and
// F(6x6,3x3) on 8x8 input tiles. Same contract and epilogue as conv3x3_direct_f32_avx2 (see conv3x3.h); only the
// weights differ: they are pre-transformed once (U = G g G^T) into a PackedWinograd.
//
//   PackedWinograd pw = pack_conv3x3_winograd_f32(torch_weights, oc, ic, 6);   // once, at compile time
//   const char* algo = conv3x3_choose_algo(ic, oc, h, w);                      // "direct" / "winograd43" / ...
//   if (cpu_has_avx2_fma()) conv3x3_winograd63_f32_avx2(pw, in, out, ep);      // per tile, cannot fail
//   PackedWinogradOc8 p8 = pack_conv3x3_winograd_oc8_f32(torch_weights, oc, ic, 6);  // AVX-512 kernels
//   if (cpu_has_avx512f()) conv3x3_winograd63_f32_avx512(p8, in, out, ep);
//   PackedWinogradOc8F16 h8 = pack_conv3x3_winograd_oc8_f16(torch_weights, oc, ic, 6);  // binary16 U, half size
//   if (cpu_has_avx512f_f16c()) conv3x3_winograd63_f16w_avx512(h8, in, out, ep);
//   PackedWinogradOc8Bf16 b8 = pack_conv3x3_winograd_oc8_bf16(torch_weights, oc, ic, 6);  // bfloat16 pairs
//   if (cpu_has_avx512_bf16()) conv3x3_winograd63_bf16_avx512(b8, in, out, ep);         // less exact, faster
//
// Contract (identical to conv3x3.h):
//  - `in` has w.ic planes, `out` has w.oc planes, same geometry (h, w); the residual, when given, has w.oc
//    planes of that geometry too. h == 0 or w == 0 is a no-op.
//  - `in`'s zero ring must be zero (its slack may hold anything). Its interior is read only.
//  - `out` need not be zeroed on entry: every float of every out plane (plane_stride of them: ring, slack and
//    alignment padding included) is written; on return the interior holds the result and everything else is 0.
//  - `out` may be a channel slice of a larger buffer. It must NOT overlap `in`.
//  - `residual` may be exactly `out` (same data pointer), or must not overlap `out` at all.
//  - Result per interior pixel: out = out_scale * act(conv + bias) + residual_scale * residual.
//  - Threads: OpenMP over blocks of tiles (default team size); call from one thread. Per-thread scratch of a
//    few hundred KB is kept (thread_local) between calls.
//  - The kernel must match the packing: winograd43 needs w.m == 4, winograd63 needs w.m == 6 (RESR_ASSERT).
// Accuracy (fp32, measured by test_conv3x3_winograd AccuracyOnModelLikeData: inputs in [0,1], weights uniform in
// +-0.08, outputs up to 2.3-4.5): max abs error vs double 1.2e-5 (ic 64) / 2.8e-5 (ic 192) for F(4,3), 1.6e-5 /
// 4.6e-5 for F(6,3) (interpolation points 0, +-1, +-2 and, for F(6,3), +-1/2); mean abs errors 3e-7..2e-6.
// The *_avx512 kernels do the same operations in the same order: identical error figures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/float_products.h"
#include "backends/cpu/padded_planes.h"
#include "core/aligned_buffer.h"
#include "core/half.h"

namespace resr::cpu {

// Output channels per block of the packed layout (the GEMM's register block: 4 oc x 24 tiles).
inline constexpr int kWinogradOcBlock = 4;

// Tiles x ic x oc above which a conv's tile blocks are spread over the threads (both ISA kernels). Small convs too:
// RRDB bodies at 1/2 and 1/4 resolution in x2/x1 models, 32-feature SRVGGs; at 2e5 they ran on one thread, 1.25-1.48x
// slower; 5e3 measured the same as 2e4.
inline constexpr double kWinogradParallelWork = 2e4;

// Packed layout: for each of the t * t transform positions pos = i * t + j (t = m + 2; i the row index of
// B^T d B, j the column index), output channels in blocks of 4 (the last block zero-padded), and per block
//   weights[((pos * oc_blocks + block) * ic + c) * 4 + lane] = U[block * 4 + lane][c][i][j],  U = G g G^T
// i.e. for one position and one oc block, [ic][4] contiguous: the GEMM broadcasts the 4 weights of one input
// channel from 16 adjacent bytes and walks the input channels linearly.
struct PackedWinograd {
  int ic = 0, oc = 0, m = 0;  // m: output tile size, 4 (F(4x4,3x3)) or 6 (F(6x6,3x3))
  AlignedBuffer weights;      // t * t * oc_blocks * ic * 4 floats, layout above
  int tile() const { return m + 2; }
  int positions() const { return tile() * tile(); }
  int oc_blocks() const { return (oc + kWinogradOcBlock - 1) / kWinogradOcBlock; }
  // Offset of the [ic][4] slice of (pos, block).
  std::size_t slice(int pos, int block) const {
    return (std::size_t(pos) * oc_blocks() + block) * ic * kWinogradOcBlock;
  }
  float at(int pos, int o, int c) const {
    return weights.data()[slice(pos, o / kWinogradOcBlock) + std::size_t(c) * kWinogradOcBlock + o % kWinogradOcBlock];
  }
};

// weights: PyTorch / ncnn order [oc][ic][3][3] fp32; m = 4 or 6. The transform is done in double.
PackedWinograd pack_conv3x3_winograd_f32(const float* weights, int oc, int ic, int m);

// A 64-byte aligned, zero-initialised array of E (float, std::uint16_t holding binary16 bit patterns, or
// std::uint32_t holding bfloat16 pairs): an AlignedBuffer seen as E, so that every storage shares one allocator.
template <class E>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(std::size_t n) : buf_((n * sizeof(E) + sizeof(float) - 1) / sizeof(float)), n_(n) {}
  E* data() { return reinterpret_cast<E*>(buf_.data()); }
  const E* data() const { return reinterpret_cast<const E*>(buf_.data()); }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(E); }

 private:
  AlignedBuffer buf_;
  std::size_t n_ = 0;
};

inline float widen_weight(float x) {
  return x;
}
inline float widen_weight(std::uint16_t h) {
  return half_to_float(h);
}

// Packed layout of the AVX-512 kernels: output channels in blocks of 8 (their GEMM register block is 8 oc x 48
// tiles = 3 zmm of 16 tiles: 24 accumulators, 3 tile vectors and 2 broadcasts in 32 zmm), blocks outermost:
//   weights[((block * t * t + pos) * ic + c) * 8 + lane] = U[block * 8 + lane][c][i][j]
// i.e. for one position and one oc block, [ic][8]: one input channel's 8 weights are 32 adjacent bytes (16 for
// binary16 storage); and the slices of one oc block, which the kernels read position after position, are one
// contiguous stream (with positions outermost they were 2 KB runs 16 KB apart for 64 -> 64). E is the storage type:
// float (the *_f32_avx512 kernels) or std::uint16_t = binary16 bits (the *_f16w_avx512 kernels: half the memory,
// widened to fp32 just before each GEMM, fp32 arithmetic).
inline constexpr int kWinogradOcBlock8 = 8;

template <class E>
struct PackedWinogradOc8Of {
  int ic = 0, oc = 0, m = 0;  // m: 4 or 6, as above
  AlignedArray<E> weights;    // t * t * oc_blocks * ic * 8 values, layout above (padding outputs zero)
  // binary16 only (empty for fp32): per (pos, block), at [slice_index(pos, block)], the power of two the stored
  // values are to be multiplied by. |U| varies by ~10^4 across positions (G's rows for F(6,3) scale by 1 down to
  // 1/90), so without it some small ones would fall into binary16's subnormals (x4fast: 65.1 vs 66.8 dB).
  std::vector<float> scales;
  int tile() const { return m + 2; }
  int positions() const { return tile() * tile(); }
  int oc_blocks() const { return (oc + kWinogradOcBlock8 - 1) / kWinogradOcBlock8; }
  // Index of (pos, block) among the slices, in storage order; the slice's offset is that times ic * 8.
  std::size_t slice_index(int pos, int block) const { return std::size_t(block) * positions() + pos; }
  std::size_t slice(int pos, int block) const { return slice_index(pos, block) * ic * kWinogradOcBlock8; }
  float scale(int pos, int block) const { return scales.empty() ? 1.0f : scales[slice_index(pos, block)]; }
  float at(int pos, int o, int c) const {
    const int b = o / kWinogradOcBlock8;
    return scale(pos, b) *
           widen_weight(weights.data()[slice(pos, b) + std::size_t(c) * kWinogradOcBlock8 + o % kWinogradOcBlock8]);
  }
};
using PackedWinogradOc8 = PackedWinogradOc8Of<float>;
using PackedWinogradOc8F16 = PackedWinogradOc8Of<std::uint16_t>;

// weights: PyTorch / ncnn order [oc][ic][3][3] fp32; m = 4 or 6. Same U as pack_conv3x3_winograd_f32.
PackedWinogradOc8 pack_conv3x3_winograd_oc8_f32(const float* weights, int oc, int ic, int m);

// The same U (computed in double, rounded to fp32), divided by a power of two per (pos, block) that brings the
// block's largest |U| into [2^14, 2^15), then rounded to nearest-even binary16 (relative error <= 2^-11 for
// every value within 2^-28 of its block's largest; smaller ones lose bits, harmlessly). Needs AVX-512F + F16C
// (cpu_has_avx512f_f16c()): defined in x86/conv3x3_winograd_f32_avx512.cpp.
PackedWinogradOc8F16 pack_conv3x3_winograd_oc8_f16(const float* weights, int oc, int ic, int m);

// Packed layout of the BF16 kernel (conv3x3_winograd63_bf16_avx512): as PackedWinogradOc8, but input channels go
// in pairs, and the two bfloat16 weights of a pair share one 32-bit word (channel 2k in the low half, as
// vdpbf16ps pairs them; an odd ic's last pair has a zero high half):
//   weights[((block * t * t + pos) * ic_pairs + c / 2) * 8 + lane] = U[block * 8 + lane][c][i][j]
// so that a pair's 8 words are 32 adjacent bytes, read by the GEMM like one fp32 input channel's 8 weights.
struct PackedWinogradOc8Bf16 {
  int ic = 0, oc = 0, m = 0;
  AlignedArray<std::uint32_t> weights;  // t * t * oc_blocks * ic_pairs * 8 words
  int tile() const { return m + 2; }
  int positions() const { return tile() * tile(); }
  int oc_blocks() const { return (oc + kWinogradOcBlock8 - 1) / kWinogradOcBlock8; }
  int ic_pairs() const { return (ic + 1) / 2; }
  std::size_t slice(int pos, int block) const {
    return (std::size_t(block) * positions() + pos) * ic_pairs() * kWinogradOcBlock8;
  }
  float at(int pos, int o, int c) const {
    const std::uint32_t word =
        weights
            .data()[slice(pos, o / kWinogradOcBlock8) + std::size_t(c / 2) * kWinogradOcBlock8 + o % kWinogradOcBlock8];
    return bf16_to_float(std::uint16_t(c % 2 == 0 ? word & 0xffffu : word >> 16));
  }
};

// The U of pack_conv3x3_winograd_oc8_f32 rounded to nearest-even bfloat16 (relative error <= 2^-8; bfloat16 has
// binary32's exponent range, so no scaling is needed). Portable.
PackedWinogradOc8Bf16 pack_conv3x3_winograd_oc8_bf16(const float* weights, int oc, int ic, int m);

// F(4x4,3x3): 6x6 input tiles, 36 GEMMs [oc x ic] x [ic x tiles]. Needs AVX2 + FMA; w.m == 4.
void conv3x3_winograd43_f32_avx2(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep);

// F(6x6,3x3): 8x8 input tiles, 64 GEMMs. Needs AVX2 + FMA; w.m == 6.
void conv3x3_winograd63_f32_avx2(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep);

// F(4x4,3x3) and F(6x6,3x3) with AVX-512: 16 tiles per zmm in the input / output transforms (8 x 8 transposes in
// the two 256-bit halves), GEMM register block 8 oc x 48 tiles. Needs AVX-512F/BW/VL/DQ + FMA (check
// cpu_has_avx512f()); w.m == 4 / 6. Same contract. Defined in x86/conv3x3_winograd_f32_avx512.cpp.
void conv3x3_winograd43_f32_avx512(const PackedWinogradOc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                   const ConvEpilogue& ep);
void conv3x3_winograd63_f32_avx512(const PackedWinogradOc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                   const ConvEpilogue& ep);

// The same kernels over binary16-stored weights (pack_conv3x3_winograd_oc8_f16): each GEMM's 8 oc x kc weight
// slice (<= 3 KB) is widened with vcvtph2ps into an L1 scratch right before the GEMM, everything else as above.
// Extra error: the binary16 rounding of U (relative 2^-11 per weight), amplified by the transforms like fp32
// rounding: max abs error ~3e-3 (F(4,3)) / ~5e-3 (F(6,3)) of the largest |output| on model-like data, mean
// ~2e-4 / 4e-4 (test_conv3x3_winograd); whole models vs fp32: x4fast 66.8 dB, x4plus 68.5 dB PSNR. Cost:
// measured +4..13% kernel time vs the fp32 kernels with U cache-resident (single thread, Zen).
// Needs AVX-512F/BW/VL/DQ + FMA + F16C (check cpu_has_avx512f_f16c()); w.m == 4 / 6. Same contract.
void conv3x3_winograd43_f16w_avx512(const PackedWinogradOc8F16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep);
void conv3x3_winograd63_f16w_avx512(const PackedWinogradOc8F16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep);

// F(6x6,3x3) and F(4x4,3x3) with bfloat16 products, for convs whose caller allows them to lose precision (the CPU
// backend's bf16 option): the input transform's V is rounded to bfloat16 (relative 2^-8) and stored in channel
// pairs, and the GEMM multiplies pairs with vdpbf16ps (2 products per lane per instruction, summed in fp32: about
// twice the multiply-adds per second of fp32 FMAs on Zen 5); transforms, sums and the epilogue stay fp32. The
// rounding of V and U, amplified by the transforms (more by F(6,3)'s), is the cost: docs/quantization.md,
// "BF16 products", has the measured model PSNRs. Needs AVX-512F/BW/VL/DQ + AVX512_BF16 (check
// cpu_has_avx512_bf16()); w.m == 6 / 4. Same contract as above.
void conv3x3_winograd63_bf16_avx512(const PackedWinogradOc8Bf16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep);
void conv3x3_winograd43_bf16_avx512(const PackedWinogradOc8Bf16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                    const ConvEpilogue& ep);

// True when the running CPU has what the *_avx512 kernels need (cpu_has_avx512f()) and F16C.
bool cpu_has_avx512f_f16c();

// Asserts the shapes and aliasing rules of the contract above (shared by the kernels).
void check_conv3x3_winograd_args(const PackedWinograd& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep);
void check_conv3x3_winograd_args(const PackedWinogradOc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep);
void check_conv3x3_winograd_args(const PackedWinogradOc8F16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep);
void check_conv3x3_winograd_args(const PackedWinogradOc8Bf16& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                 const ConvEpilogue& ep);

// Shared by the Winograd kernels. The m x m output tiles of an h x w image (tile (ty, tx) reads the t x t input
// patch at padded row ty * m, column tx * m), full tiles first in raster order, then the edge tiles (which need
// zeros beyond the padded plane).
struct WinogradTile {
  std::ptrdiff_t in_off;   // offset of the input patch origin in a plane
  std::ptrdiff_t out_off;  // offset of output pixel (ty * m, tx * m) in a plane
  int in_rows, in_cols;    // valid rows / cols of the patch inside the padded plane
  int out_rows, out_cols;  // valid output rows / cols
  bool full;               // out_rows == out_cols == m
};
std::vector<WinogradTile> make_winograd_tiles(int h, int w, int m);

// Zeroes the part of the ring (and, for the first / last tile, the top row / bottom row and slack) of planes
// [oc_begin, oc_end) of `out` that borders tiles[0 .. count): called by the thread that wrote those tiles, right
// after it, so the lines are still in its cache. Over all tiles, everything but the interior gets zeroed.
// (Zeroing all rings in a separate pass after the tiles made each core fetch, for 2 floats per row and plane,
// lines the other core had just written: measured ~20% of a 2-thread 64->64 conv at 256x256.)
void zero_winograd_ring_of_tiles(const PaddedPlanes& out, const WinogradTile* tiles, int count, int oc_begin,
                                 int oc_end);

// The algorithm to use for one conv on this machine class (AVX2 + FMA), from bench_conv3x3 measurements:
// "direct", "winograd43" or "winograd63". The returned string is static.
const char* conv3x3_choose_algo(int ic, int oc, int h, int w);

}  // namespace resr::cpu
