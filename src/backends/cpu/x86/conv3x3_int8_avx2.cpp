// conv3x3_int8_avx2: direct 3x3 convolution with INT8 data on AVX2 without VNNI (the Zen 3 / Haswell class).
// vpmaddubsw's u8 x s8 pair sums saturate at int16, so the exact product is vpmaddwd on int16: a tap's 32-byte
// load (8 flat positions x 4 input channels, the layout of conv3x3_int8.h) is split into its even and odd bytes
// (channels 4g, 4g+2 and 4g+1, 4g+3, zero-extended to int16 by a mask and a shift), and each half is multiplied
// by one broadcast word of two int16 weights (PackedInt8Pairs): 2 vpmaddwd + 2 vpaddd per 8 positions x 4
// channels of one output, twice the multiply-adds of an fp32 FMA per instruction. Register block: 4 output
// channels x 2 ymm of 8 positions = 8 accumulators; the int32 sums stay in registers over all input channels,
// then the epilogue and loops of int8_ymm_blocks.h store them into the fp32 planes or the u8 groups.
#include <immintrin.h>

#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/x86/int8_ymm_blocks.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

using ymm_int8::kOcBlock;
static_assert(kOcBlock == kInt8PairsOcBlock);

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
void accumulate(const std::uint8_t* src, std::size_t gstride, int pitch, int groups, const void* weights,
                std::int32_t* acc) {
  const auto* w = static_cast<const std::int32_t*>(weights);
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

ymm_int8::AccumulateFn accumulate_fn(int noc) {
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

void run(const PackedConv3x3Int8& w, const PackedInt8Pairs& pairs, const QuantizedPlanes& in, const PaddedPlanes& out,
         const ConvEpilogue& ep, const QuantizedPlanes* qout) {
  RESR_ASSERT(pairs.ic == w.ic && pairs.oc == w.oc);
  const std::size_t wblock = std::size_t(pairs.groups()) * 9 * kOcBlock * 2;  // int32 words per oc block
  ymm_int8::run<2>(w, in, out, ep, qout, accumulate_fn, [&](int b) { return pairs.words() + b * wblock; });
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
