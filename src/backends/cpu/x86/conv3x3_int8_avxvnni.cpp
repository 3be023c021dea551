// conv3x3_int8_avxvnni: the direct INT8 3x3 convolution of conv3x3_int8_vnni512 on 256-bit registers, for CPUs with
// AVX-VNNI but no AVX-512 (Intel's client cores since Alder Lake): vpdpbusd sums 4 u8 x s8 products per int32 lane
// exactly, so a tap is one 32-byte load of 8 positions x 4 input channels and one instruction per output. Register
// block: 4 output channels x 3 ymm of 8 positions = 12 accumulators; per input group and tap, 3 loads + 4 weight-
// word broadcasts + 12 vpdpbusd. Weights are the 8-output blocks of PackedConv3x3Int8, read half a block at a time.
// The epilogue and loops are int8_ymm_blocks.h's. The same assembly is emitted in the VEX encoding (AVX-VNNI) and
// in the EVEX one (AVX-512 VNNI + VL, which has the same instruction on ymm), so that CPUs with AVX-512 VNNI can
// test this kernel's logic.
#include <immintrin.h>

#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/x86/int8_ymm_blocks.h"

namespace resr::cpu {
namespace {

using ymm_int8::kOcBlock;

// ymm0-11: the int32 accumulators (output j, vector v in ymm 3j+v); ymm12-14 the tap's 3 input vectors; ymm15 the
// broadcast weight word. ENC is "%{vex%} " or "%{evex%} " (braces escaped for asm); NOC < 4 drops outputs j >= NOC with
// assembler `.if`s.
#define RESR_OC(ENC, T, J, A0, A1, A2)                                                                       \
  ".if " #J                                                                                                  \
  " < %c[noc]\n\t"                                                                                           \
  "vpbroadcastd " #T "*32+" #J "*4(%[w]), %%ymm15\n\t" ENC "vpdpbusd %%ymm15, %%ymm12, %%ymm" #A0 "\n\t" ENC \
  "vpdpbusd %%ymm15, %%ymm13, %%ymm" #A1 "\n\t" ENC "vpdpbusd %%ymm15, %%ymm14, %%ymm" #A2                   \
  "\n\t"                                                                                                     \
  ".endif\n\t"

#define RESR_TAP(ENC, ROW, DX, T)                                                                    \
  "vmovdqu " #DX "*4+0" ROW                                                                          \
  ", %%ymm12\n\t"                                                                                    \
  "vmovdqu " #DX "*4+32" ROW                                                                         \
  ", %%ymm13\n\t"                                                                                    \
  "vmovdqu " #DX "*4+64" ROW ", %%ymm14\n\t" RESR_OC(ENC, T, 0, 0, 1, 2) RESR_OC(ENC, T, 1, 3, 4, 5) \
      RESR_OC(ENC, T, 2, 6, 7, 8) RESR_OC(ENC, T, 3, 9, 10, 11)

#define RESR_ROW0 "(%[r])"
#define RESR_ROW1 "(%[r],%[p1],1)"
#define RESR_ROW2 "(%[r],%[p2],1)"

#define RESR_ACC_Z(J, A0, A1, A2)               \
  ".if " #J                                     \
  " < %c[noc]\n\t"                              \
  "vpxor %%ymm" #A0 ", %%ymm" #A0 ", %%ymm" #A0 \
  "\n\t"                                        \
  "vpxor %%ymm" #A1 ", %%ymm" #A1 ", %%ymm" #A1 \
  "\n\t"                                        \
  "vpxor %%ymm" #A2 ", %%ymm" #A2 ", %%ymm" #A2 \
  "\n\t"                                        \
  ".endif\n\t"
#define RESR_ACC_S(J, A0, A1, A2) \
  ".if " #J                       \
  " < %c[noc]\n\t"                \
  "vmovdqu %%ymm" #A0 ", " #A0    \
  "*32(%[acc])\n\t"               \
  "vmovdqu %%ymm" #A1 ", " #A1    \
  "*32(%[acc])\n\t"               \
  "vmovdqu %%ymm" #A2 ", " #A2    \
  "*32(%[acc])\n\t"               \
  ".endif\n\t"
#define RESR_ACC_ALL(M) M(0, 0, 1, 2) M(1, 3, 4, 5) M(2, 6, 7, 8) M(3, 9, 10, 11)

#define RESR_ACCUMULATE(ENC) \
  asm volatile(RESR_ACC_ALL(RESR_ACC_Z)                                                                         \
      ".p2align 5\n"                                                                                            \
      "1:\n\t"                                                                                                  \
      RESR_TAP(ENC, RESR_ROW0, 0, 0) RESR_TAP(ENC, RESR_ROW0, 1, 1) RESR_TAP(ENC, RESR_ROW0, 2, 2)              \
      RESR_TAP(ENC, RESR_ROW1, 0, 3) RESR_TAP(ENC, RESR_ROW1, 1, 4) RESR_TAP(ENC, RESR_ROW1, 2, 5)              \
      RESR_TAP(ENC, RESR_ROW2, 0, 6) RESR_TAP(ENC, RESR_ROW2, 1, 7) RESR_TAP(ENC, RESR_ROW2, 2, 8)              \
      "add %[gs], %[r]\n\t"                                                                                     \
      "add $288, %[w]\n\t"                                                                                      \
      "dec %[n]\n\t"                                                                                            \
      "jnz 1b\n\t"                                                                                              \
      RESR_ACC_ALL(RESR_ACC_S)                                                                                  \
      "vzeroupper\n\t"                                                                                          \
      : [r] "+r"(r), [w] "+r"(w), [n] "+r"(n)                                                                   \
      : [p1] "r"(p1), [p2] "r"(p2), [gs] "r"(gs), [acc] "r"(acc), [noc] "i"(NOC)                                \
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15")

// acc[(j * 3 + v) * 8 + lane] = sum over `groups` groups and the 9 taps for output j < NOC of the block, position
// src + 8 v + lane. `weights`: the block's first output's word of group 0, tap 0 in PackedConv3x3Int8.
template <int NOC, bool EVEX>
void accumulate(const std::uint8_t* src, std::size_t gstride, int pitch, int groups, const void* weights,
                std::int32_t* acc) {
  const auto* w = static_cast<const std::int8_t*>(weights);
  const std::uint8_t* r = src - std::ptrdiff_t(pitch) * 4 - 4;
  const std::ptrdiff_t p1 = std::ptrdiff_t(pitch) * 4, p2 = 2 * p1;
  const std::ptrdiff_t gs = std::ptrdiff_t(gstride);
  std::ptrdiff_t n = groups;
  static_assert(9 * kInt8OcBlock * 4 == 288, "weight bytes per group");
  if constexpr (EVEX)
    RESR_ACCUMULATE("%{evex%} ");
  else
    RESR_ACCUMULATE("%{vex%} ");
}

#undef RESR_OC
#undef RESR_TAP
#undef RESR_ROW0
#undef RESR_ROW1
#undef RESR_ROW2
#undef RESR_ACC_Z
#undef RESR_ACC_S
#undef RESR_ACC_ALL
#undef RESR_ACCUMULATE

template <bool EVEX>
ymm_int8::AccumulateFn accumulate_fn(int noc) {
  switch (noc) {
    case 1:
      return accumulate<1, EVEX>;
    case 2:
      return accumulate<2, EVEX>;
    case 3:
      return accumulate<3, EVEX>;
    default:
      return accumulate<4, EVEX>;
  }
}

void run(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out, const ConvEpilogue& ep,
         const QuantizedPlanes* qout, VnniEncoding enc) {
  const std::size_t wblock = std::size_t(w.groups()) * 9 * kInt8OcBlock * 4;  // bytes per 8-output block
  static_assert(kInt8OcBlock == 2 * kOcBlock);
  const auto weights = [&](int b) { return w.weights() + std::size_t(b / 2) * wblock + (b % 2) * kOcBlock * 4; };
  if (enc == VnniEncoding::kEvex)
    ymm_int8::run<3>(w, in, out, ep, qout, accumulate_fn<true>, weights);
  else
    ymm_int8::run<3>(w, in, out, ep, qout, accumulate_fn<false>, weights);
}

}  // namespace

void conv3x3_int8_avxvnni(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const PaddedPlanes& out,
                          const ConvEpilogue& ep, VnniEncoding enc) {
  check_conv3x3_int8_args(w, in, out, ep);
  run(w, in, out, ep, nullptr, enc);
}

void conv3x3_int8_avxvnni(const PackedConv3x3Int8& w, const QuantizedPlanes& in, const ConvEpilogue& ep,
                          const QuantizedPlanes& qout, VnniEncoding enc) {
  check_conv3x3_int8_args(w, in, ep, qout);
  run(w, in, PaddedPlanes{}, ep, &qout, enc);
}

}  // namespace resr::cpu
