// conv3x3_int8: 3x3, stride 1, zero-padding 1 convolution with INT8 arithmetic (u8 activations x s8 weights ->
// exact int32 sums), dequantized to fp32 and finished by the same fused epilogue as the fp32 kernels (conv3x3.h).
// Semantics are those of ir::ConvQuant (ir/graph.h), restated in the u8 domain the kernels work in:
//
//   activations (per tensor): u = clamp(round(x / scale) + zero, qmin, 255)   x^ = (u - zero) * scale
//       (per channel, symmetric: x / channel_scales[c] for x / scale; U8Quant)
//       symmetric:  zero = 128, qmin = 1   (ConvQuant's q in [-127, 127] stored as q + 128)
//       asymmetric: zero = ConvQuant::in_zero, qmin = 0
//   weights (per output channel o): qw = clamp(round(w / weight_scales[o]), -127, 127)
//   conv[o] = isum * (scale * weight_scales[o]),  isum = sum(u * qw) - zero * sum_o(qw)   sum_o: all ic x 9 of o
// round() is round-half-to-even (the default FP rounding mode; what vcvtps2dq does) and x / scale is an IEEE
// division, so every implementation quantizes to the same bytes. The zero padding of the conv is the value 0.0,
// i.e. u = zero: a padded tap contributes zero * qw, which the weight-sum correction removes.
//
//   PackedConv3x3Int8 pw = pack_conv3x3_int8(torch_weights, weight_scales, oc, ic);  // once, at compile time
//   std::vector<std::uint8_t> buf(QuantizedPlanes::bytes(geo, ic));                 // (64-byte aligned is faster)
//   QuantizedPlanes q{buf.data(), ic, geo, U8Quant::symmetric(in_scale)};
//   quantize_planes_u8_avx512(in, q);             // or quantize_planes_u8_generic: identical bytes
//   conv3x3_int8_vnni512(pw, q, out, ep);         // or conv3x3_int8_generic: identical results
//
// Contract of the kernels (the fp32 one of conv3x3.h, with the input already quantized):
//  - `in` has w.ic channels, `out` w.oc planes, same geometry (h, w); the residual, when given, has w.oc planes
//    of that geometry. h == 0 or w == 0 is a no-op.
//  - `out` need not be zeroed on entry: every float of every out plane (ring, slack and alignment padding
//    included) is written; on return the interior holds the result and everything else is 0.
//  - `out` may be a channel slice of a larger buffer. `residual` may be exactly `out` (in place) or must not
//    overlap it.
//  - Result per interior pixel: out = out_scale * act(conv + bias) + residual_scale * residual, evaluated in
//    float as v = float(isum) * (scale * weight_scales[o]); v = v + bias; v < 0 ? v * slope : v; v * out_scale;
//    v + residual_scale * residual, without fused multiply-adds. The int32 sum is exact, so every kernel gives
//    bit-identical outputs.
//  - Overflow: |isum| <= 255 * 127 * 9 * ic fits int32 for ic <= 7000 (RESR_ASSERT).
//  - Requantizing variants (`qout` instead of `out`): the same fp32 result, quantized with qout.quant exactly as
//    quantize_planes_u8_* would quantize it (output o divided by qout.quant.divisor(o); so: the same bytes as
//    writing fp32 and quantizing that), into the u8 layout with its ring, slack and padding-channel rules. For a
//    conv whose output only feeds another INT8 conv: a quarter of the output bytes and no quantization pass. The
//    residual, if any, must not alias.
//  - Threads: OpenMP (default team size); call from one thread. Shape mismatches: RESR_ASSERT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backends/cpu/conv3x3.h"
#include "backends/cpu/padded_planes.h"
#include "core/aligned_buffer.h"

namespace resr::cpu {

// The u8 encoding of one activation tensor (see the header comment). With per-channel input scales
// (ir::ConvQuant::in_channel_scales, symmetric only), channel c is divided by channel_scales[c] instead of
// `scale`; `scale` stays the dequantizing factor, the weights having been packed from w * channel_scales[c] /
// scale (ir::folded_int8_weights). channel_scales is borrowed: it indexes the channels of the planes it is used
// with (from_channel shifts it for a channel slice) and must outlive every use.
struct U8Quant {
  float scale = 1.0f;
  int zero = 128;
  int qmin = 1;
  const float* channel_scales = nullptr;  // null: per tensor
  static U8Quant symmetric(float scale) { return {scale, 128, 1, nullptr}; }
  static U8Quant asymmetric(float scale, int zero) { return {scale, zero, 0, nullptr}; }
  static U8Quant per_channel(float scale, const float* channel_scales) { return {scale, 128, 1, channel_scales}; }
  // What channel c is divided by.
  float divisor(int c) const { return channel_scales != nullptr ? channel_scales[c] : scale; }
  // The same encoding for the planes that start at channel c (a part of a dense block).
  U8Quant from_channel(int c) const {
    U8Quant q = *this;
    if (q.channel_scales != nullptr) q.channel_scales += c;
    return q;
  }
  bool same_as(const U8Quant& o) const {
    return scale == o.scale && zero == o.zero && qmin == o.qmin && channel_scales == o.channel_scales;
  }
};

// A quantized PaddedPlanes: channels in groups of 4, each group a plane of interleaved bytes
//   byte (4 * p + k) of group g = channel 4g + k at flat position p (p = y * pitch + x of the padded plane)
// for p in [0, positions()), positions() = (h + 2) * pitch + kSlack. One 64-byte load gives 16 consecutive
// positions x 4 channels: the u8 operand of vpdpbusd. The ring and slack hold `zero`; channels past `channels`
// in the last group hold 0 (their weights are 0). Group planes start 64-byte aligned.
struct QuantizedPlanes {
  std::uint8_t* data = nullptr;
  int channels = 0;
  PaddedGeometry geo;
  U8Quant quant;

  int groups() const { return (channels + 3) / 4; }
  std::size_t positions() const { return std::size_t(geo.h + 2) * geo.pitch() + PaddedGeometry::kSlack; }
  std::size_t group_stride() const { return (positions() * 4 + 63) / 64 * 64; }  // bytes
  std::uint8_t* group(int g) const { return data + std::size_t(g) * group_stride(); }
  // Bytes a buffer for `channels` channels of geometry `geo` needs.
  static std::size_t bytes(const PaddedGeometry& geo, int channels) {
    return QuantizedPlanes{nullptr, channels, geo, {}}.group_stride() * std::size_t((channels + 3) / 4);
  }
};

// Writes every byte of `out`'s groups from `in` (in.channels == out.channels, same geometry; `in`'s ring must be
// zero, its slack is not read), channel c divided by out.quant.divisor(c). OpenMP over groups x rows.
void quantize_planes_u8_generic(const PaddedPlanes& in, const QuantizedPlanes& out);
// Same bytes; needs AVX-512F/BW (cpu_has_avx512f()). Defined in x86/quantize_u8_avx512.cpp.
void quantize_planes_u8_avx512(const PaddedPlanes& in, const QuantizedPlanes& out);
// Same bytes; needs AVX2 (cpu_has_avx2_fma()). Defined in x86/quantize_u8_avx2.cpp.
void quantize_planes_u8_avx2(const PaddedPlanes& in, const QuantizedPlanes& out);

// Packed weights: output channels in blocks of kInt8OcBlock (the last block zero-padded), input channels in
// groups of 4 (the last group zero-padded):
//   weights[(((block * groups + g) * 9 + t) * kInt8OcBlock + j) * 4 + k] = qw[block * 8 + j][4g + k][t]
// so one (group, tap) of a block is 8 little-endian int32 words, one per output channel, each holding the 4 input
// channels' weights: the broadcast s8 operand of vpdpbusd.
inline constexpr int kInt8OcBlock = 8;

struct PackedConv3x3Int8 {
  int ic = 0, oc = 0;
  AlignedBuffer storage;           // the int8 weights above (AlignedBuffer counts floats: 4 bytes each)
  std::vector<float> scales;       // [oc] weight scales
  std::vector<std::int32_t> sums;  // [oc] sum of the quantized weights of each output (zero-point correction)
  int groups() const { return (ic + 3) / 4; }
  int oc_blocks() const { return (oc + kInt8OcBlock - 1) / kInt8OcBlock; }
  const std::int8_t* weights() const { return reinterpret_cast<const std::int8_t*>(storage.data()); }
  // Quantized weight of output o, input i, tap t = ky * 3 + kx.
  std::int8_t at(int o, int i, int t) const {
    const std::size_t b = std::size_t(o / kInt8OcBlock), g = std::size_t(i / 4);
    return weights()[(((b * groups() + g) * 9 + t) * kInt8OcBlock + o % kInt8OcBlock) * 4 + i % 4];
  }
};

// weights [oc][ic][3][3] fp32, weight_scales [oc] (> 0): qw = clamp(round(w / scale), -127, 127).
PackedConv3x3Int8 pack_conv3x3_int8(const float* weights, const float* weight_scales, int oc, int ic);

// The weights of a PackedConv3x3Int8 widened for conv3x3_int8_avx2, whose vpmaddwd multiplies pairs of int16 and
// adds each pair's two products into an int32: output channels in blocks of kInt8PairsOcBlock (the last block
// zero-padded), per (group, tap) and output j of a block two int32 words of two int16 weights each, the even
// input channels (4g, 4g+2) then the odd ones (4g+1, 4g+3):
//   words[(((block * groups + g) * 9 + t) * kInt8PairsOcBlock + j) * 2 + odd]
//       = uint16(qw[4 * block + j][4g + odd][t]) | qw[4 * block + j][4g + 2 + odd][t] << 16
inline constexpr int kInt8PairsOcBlock = 4;

struct PackedInt8Pairs {
  int ic = 0, oc = 0;
  AlignedBuffer storage;  // the int32 words above (AlignedBuffer counts 4-byte floats)
  int groups() const { return (ic + 3) / 4; }
  int oc_blocks() const { return (oc + kInt8PairsOcBlock - 1) / kInt8PairsOcBlock; }
  const std::int32_t* words() const { return reinterpret_cast<const std::int32_t*>(storage.data()); }
};

PackedInt8Pairs widen_conv3x3_int8_pairs(const PackedConv3x3Int8& w);

// Register-blocked 4 oc x 16 positions with vpmaddwd on the widened weights `pairs` (of `w`, which gives the
// scales and sums); needs AVX2 (cpu_has_avx2_fma()). Same contract and bit-identical results as the other
// kernels. Defined in x86/conv3x3_int8_avx2.cpp.
void conv3x3_int8_avx2(const PackedConv3x3Int8& w, const PackedInt8Pairs& pairs, const QuantizedPlanes& in,
                       const PaddedPlanes& out, const ConvEpilogue& ep);
void conv3x3_int8_avx2(const PackedConv3x3Int8& w, const PackedInt8Pairs& pairs, const QuantizedPlanes& in,
                       const ConvEpilogue& ep, const QuantizedPlanes& qout);

// Register-blocked 4 oc x 24 positions with vpdpbusd on ymm, for CPUs with AVX-VNNI and no AVX-512 (Intel client
// cores since Alder Lake): needs AVX2 and AVX-VNNI (cpu_has_avx_vnni()). Same contract and results as the others.
// enc = kEvex emits the same instructions in their AVX-512 encoding, which needs AVX-512 VNNI + VL instead
// (cpu_has_avx512_vnni()): how this kernel's logic is tested on CPUs without AVX-VNNI; the dispatch never uses it.
// Defined in x86/conv3x3_int8_avxvnni.cpp.
enum class VnniEncoding { kVex, kEvex };
void conv3x3_int8_avxvnni(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                          const ConvEpilogue& ep, VnniEncoding enc = VnniEncoding::kVex);
void conv3x3_int8_avxvnni(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                          const QuantizedPlanes& qout, VnniEncoding enc = VnniEncoding::kVex);

// Register-blocked 8 oc x 48 positions with vpdpbusd; needs AVX-512F/BW/VL/DQ + VNNI (cpu_has_avx512_vnni()).
// Defined in x86/conv3x3_int8_vnni512.cpp.
void conv3x3_int8_vnni512(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                          const ConvEpilogue& ep);

// Portable C++ kernel, simple loops, same contract and results.
void conv3x3_int8_generic(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                          const ConvEpilogue& ep);

// Requantizing variants: the result quantized into `qout` (w.oc channels, same geometry) instead of fp32.
void conv3x3_int8_vnni512(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                          const QuantizedPlanes& qout);
void conv3x3_int8_generic(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                          const QuantizedPlanes& qout);

// True when the running CPU has AVX-512F/BW/VL/DQ (cpu_has_avx512f()) and AVX-512 VNNI.
bool cpu_has_avx512_vnni();
// True when the running CPU has AVX2 (cpu_has_avx2_fma()) and AVX-VNNI (the VEX-encoded vpdpbusd).
bool cpu_has_avx_vnni();
// True when INT8 convolutions have a VNNI kernel here (either of the above). Without one they run on int16
// multiply-adds (AVX2) or the portable kernel, measured slower than the fp32 Winograd kernels.
bool cpu_has_fast_int8();

// Shared by the kernels: asserts the shapes and aliasing rules above.
void check_conv3x3_int8_args(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                             const ConvEpilogue& ep);
void check_conv3x3_int8_args(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                             const QuantizedPlanes& qout);
// The 4 bytes of group g's ring / slack positions: the zero point for real channels, 0 for padding channels.
std::int32_t quantized_pad_word(const QuantizedPlanes& q, int g);

// Per-output constants of the dequantizing epilogue: scale[o] = in.scale * w.scales[o], corr[o] = zero * sums[o],
// padded to a multiple of kInt8OcBlock (padding: scale 0, corr 0, bias 0, slope 1).
struct Int8EpilogueConsts {
  std::vector<float> scale, bias, slope;
  std::vector<std::int32_t> corr;
};
Int8EpilogueConsts int8_epilogue_consts(const PackedConv3x3Int8& w, const U8Quant& q, const ConvEpilogue& ep);

}  // namespace resr::cpu
