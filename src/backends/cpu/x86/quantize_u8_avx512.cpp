// quantize_planes_u8_avx512: fp32 PaddedPlanes -> the 4-channel-interleaved u8 layout of conv3x3_int8.h, 16
// positions x 4 channels per step: divide by the channel's divisor, clamp in float (maxps/minps, as the generic
// quantizer), round half to even (vcvtps2dq), add the zero point, and pack the 4 channels into the 4 bytes of each
// dword.
// (x * (1 / scale) with a fix-up of the lanes near a tie gives the same bytes but measured slower on Zen 5.)
// gcc 12 warns -Wmaybe-uninitialized inside the headers' _mm512_undefined_* (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/quantize_u8_groups.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

struct Consts {
  __m512 lo, hi;
  __m512i zero;
};

inline __m512i quantize16(const float* src, __mmask16 m, __m512 divisor, const Consts& c) {
  __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, src), divisor);
  v = _mm512_min_ps(_mm512_max_ps(v, c.lo), c.hi);  // NaN -> lo, as the generic quantizer
  return _mm512_add_epi32(_mm512_cvtps_epi32(v), c.zero);
}

// One row of one group: NC real channels (the others' bytes 0), channel k divided by div[k].
template <int NC>
void quantize_row(const float* const* src, const float* div, int pitch, std::int32_t* dst, const Consts& c) {
  const __m512 d0 = _mm512_set1_ps(div[0]), d1 = _mm512_set1_ps(div[1]), d2 = _mm512_set1_ps(div[2]),
               d3 = _mm512_set1_ps(div[3]);
  for (int x = 0; x < pitch; x += 16) {
    const __mmask16 m = pitch - x >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (pitch - x)) - 1u);
    __m512i word = quantize16(src[0] + x, m, d0, c);
    if constexpr (NC > 1) word = _mm512_or_si512(word, _mm512_slli_epi32(quantize16(src[1] + x, m, d1, c), 8));
    if constexpr (NC > 2) word = _mm512_or_si512(word, _mm512_slli_epi32(quantize16(src[2] + x, m, d2, c), 16));
    if constexpr (NC > 3) word = _mm512_or_si512(word, _mm512_slli_epi32(quantize16(src[3] + x, m, d3, c), 24));
    _mm512_mask_storeu_epi32(dst + x, m, word);
  }
}

}  // namespace

void quantize_planes_u8_avx512(const PaddedPlanes& in, const QuantizedPlanes& out) {
  const U8Quant q = out.quant;
  const Consts c{_mm512_set1_ps(float(q.qmin - q.zero)), _mm512_set1_ps(float(255 - q.zero)),
                 _mm512_set1_epi32(q.zero)};
  quantize_u8_groups(in, out, [&c](auto nc, const float* const* src, const float* div, int pitch, std::int32_t* dst) {
    quantize_row<decltype(nc)::value>(src, div, pitch, dst, c);
  });
}

}  // namespace resr::cpu
