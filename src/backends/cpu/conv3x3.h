// conv3x3: 3x3, stride 1, zero-padding 1 convolution on PaddedPlanes, fp32, with a fused epilogue
// (bias, LeakyReLU / per-channel PReLU, output scale, scaled residual add). Used by every conv of
// RRDBNet (Real-ESRGAN x4plus) and SRVGGNetCompact (x4fast).
//
//   PackedConv3x3 pw = pack_conv3x3_f32(torch_weights, oc, ic);          // once, at compile time
//   PackedConv3x3Oc8 pw8 = pack_conv3x3_oc8_f32(torch_weights, oc, ic);  // (for the AVX-512 kernel)
//   ConvEpilogue ep; ep.bias = b; ep.act = Activation::kLeakyRelu; ep.leaky_slope = 0.2f;
//   if (cpu_has_avx512f())       conv3x3_direct_f32_avx512(pw8, in, out, ep);  // per tile, cannot fail
//   else if (cpu_has_avx2_fma()) conv3x3_direct_f32_avx2(pw, in, out, ep);
//   else                         conv3x3_direct_f32_generic(pw, in, out, ep);
//
// Contract shared by all kernels:
//  - `in` has w.ic planes, `out` has w.oc planes, same geometry (h, w); the residual, when given, has w.oc
//    planes of that geometry too. h == 0 or w == 0 is a no-op.
//  - `in`'s zero ring must be zero (its slack may hold anything). Its interior is read only.
//  - `out` need not be zeroed on entry: every float of every out plane (plane_stride of them: ring, slack and
//    alignment padding included) is written; on return the interior holds the result and everything else is 0.
//  - `out` may be a channel slice of a larger buffer. It must NOT overlap `in`.
//  - `residual` may be exactly `out` (same data pointer: in-place "x = out_scale*act(conv) + rs*x"), or must
//    not overlap `out` at all; partial overlap is forbidden. Its ring and slack values are never used.
//  - Result per interior pixel: out = out_scale * act(conv + bias) + residual_scale * residual.
//  - Threads: the kernels parallelise internally with OpenMP (default team size); call from one thread.
//  - Shape mismatches are broken invariants (validated at compile time by the caller): RESR_ASSERT.
#pragma once

#include "backends/cpu/padded_planes.h"
#include "core/aligned_buffer.h"

namespace resr::cpu {

enum class Activation { kNone, kLeakyRelu, kPrelu };

struct ConvEpilogue {
  const float* bias = nullptr;  // [oc] or null
  Activation act = Activation::kNone;
  float leaky_slope = 0.0f;                // act == kLeakyRelu: x < 0 ? slope * x : x
  const float* prelu_slopes = nullptr;     // [oc] when act == kPrelu
  const PaddedPlanes* residual = nullptr;  // [oc] planes of the same geometry, or null
  float out_scale = 1.0f;                  // out = out_scale * act(conv + bias) + residual_scale * residual
  float residual_scale = 1.0f;
};

// Packed layout: output channels in blocks of kConvOcBlock (the last block zero-padded), and per block
//   weights[((block * ic + i) * 9 + ky * 3 + kx) * kConvOcBlock + j] = W[block * kConvOcBlock + j][i][ky][kx]
// i.e. for one block, [ic][tap][4] contiguous: one input channel's 9 taps x 4 outputs are 36 adjacent floats.
inline constexpr int kConvOcBlock = 4;

struct PackedConv3x3 {
  int ic = 0, oc = 0;
  AlignedBuffer weights;  // ceil(oc / 4) * ic * 9 * 4 floats, layout above
  int oc_blocks() const { return (oc + kConvOcBlock - 1) / kConvOcBlock; }
  // Packed weight of output o, input i, tap t = ky * 3 + kx.
  float at(int o, int i, int t) const {
    return weights.data()[((std::size_t(o / kConvOcBlock) * ic + i) * 9 + t) * kConvOcBlock + o % kConvOcBlock];
  }
};

// weights: PyTorch / ncnn order [oc][ic][3][3] fp32.
PackedConv3x3 pack_conv3x3_f32(const float* weights, int oc, int ic);

// Packed layout for the AVX-512 kernel: the same scheme with output channels in blocks of kConvOcBlock8:
//   weights[((block * ic + i) * 9 + ky * 3 + kx) * kConvOcBlock8 + j] = W[block * kConvOcBlock8 + j][i][ky][kx]
// i.e. for one block, [ic][tap][8]: one input channel's 9 taps x 8 outputs are 72 adjacent floats (288 bytes).
// Why 8: the AVX-512 register block is 8 oc x 3 zmm of 16 positions (24 accumulators + 3 inputs + broadcasts in
// 32 zmm); 48 positions per block keep every tap read inside the kSlack (64) floats after the last row.
inline constexpr int kConvOcBlock8 = 8;

struct PackedConv3x3Oc8 {
  int ic = 0, oc = 0;
  AlignedBuffer weights;  // ceil(oc / 8) * ic * 9 * 8 floats, layout above (padding outputs zero)
  int oc_blocks() const { return (oc + kConvOcBlock8 - 1) / kConvOcBlock8; }
  float at(int o, int i, int t) const {
    return weights.data()[((std::size_t(o / kConvOcBlock8) * ic + i) * 9 + t) * kConvOcBlock8 + o % kConvOcBlock8];
  }
};

// weights: PyTorch / ncnn order [oc][ic][3][3] fp32.
PackedConv3x3Oc8 pack_conv3x3_oc8_f32(const float* weights, int oc, int ic);

// Direct convolution over the flat row range, register-blocked 4 oc x 24 positions; needs AVX2 + FMA
// (check cpu_has_avx2_fma() first). Defined in x86/conv3x3_direct_f32_avx2.cpp.
void conv3x3_direct_f32_avx2(const PackedConv3x3& w, const PaddedPlanes& in, const PaddedPlanes& out,
                             const ConvEpilogue& ep);

// Direct convolution, register-blocked 8 oc x 48 positions (3 zmm); needs AVX-512F/BW/VL/DQ + FMA (check
// cpu_has_avx512f() first). Same contract as above. Defined in x86/conv3x3_direct_f32_avx512.cpp.
void conv3x3_direct_f32_avx512(const PackedConv3x3Oc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                               const ConvEpilogue& ep);

// Portable C++ fallback, simple loops, same contract.
void conv3x3_direct_f32_generic(const PackedConv3x3& w, const PaddedPlanes& in, const PaddedPlanes& out,
                                const ConvEpilogue& ep);

// True when the running CPU supports AVX2 and FMA (runtime check).
bool cpu_has_avx2_fma();

// True when the running CPU supports AVX-512F (runtime check), together with the AVX-512 BW/VL/DQ and FMA
// extensions that x86/*_avx512.cpp are compiled for (every AVX-512 CPU but Xeon Phi has them).
bool cpu_has_avx512f();

// Shared by the kernels: asserts the shapes and the aliasing rules of the contract above.
void check_conv3x3_shapes(int ic, int oc, const PaddedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep);
void check_conv3x3_args(const PackedConv3x3& w, const PaddedPlanes& in, const PaddedPlanes& out,
                        const ConvEpilogue& ep);
void check_conv3x3_args(const PackedConv3x3Oc8& w, const PaddedPlanes& in, const PaddedPlanes& out,
                        const ConvEpilogue& ep);

}  // namespace resr::cpu
