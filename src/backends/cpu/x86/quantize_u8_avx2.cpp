// quantize_planes_u8_avx2: fp32 PaddedPlanes -> the 4-channel-interleaved u8 layout of conv3x3_int8.h, 8
// positions x 4 channels per step, with the steps of the other quantizers (divide by the channel's divisor, clamp
// in float with NaN -> lo, round half to even with vcvtps2dq, add the zero point), so the bytes are the same.
#include <immintrin.h>

#include <cstdint>

#include "backends/cpu/conv3x3_int8.h"
#include "backends/cpu/quantize_u8_groups.h"
#include "core/status.h"

namespace resr::cpu {
namespace {

struct Consts {
  __m256 lo, hi;
  __m256i zero;
};

// The divisors of a row's 4 channels, broadcast.
struct Divisors {
  __m256 d[4];
};

// FULL: all 8 positions are inside the row; otherwise only the lanes of `m` are read (and written).
template <bool FULL>
inline __m256i quantize8(const float* src, __m256i m, __m256 divisor, const Consts& c) {
  __m256 v = _mm256_div_ps(FULL ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, m), divisor);
  v = _mm256_min_ps(_mm256_max_ps(v, c.lo), c.hi);  // NaN -> lo, as the generic quantizer
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), c.zero);
}

template <int NC, bool FULL>
inline void quantize_step(const float* const* src, int x, std::int32_t* dst, __m256i m, const Divisors& dv,
                          const Consts& c) {
  __m256i word = quantize8<FULL>(src[0] + x, m, dv.d[0], c);
  if constexpr (NC > 1) word = _mm256_or_si256(word, _mm256_slli_epi32(quantize8<FULL>(src[1] + x, m, dv.d[1], c), 8));
  if constexpr (NC > 2) word = _mm256_or_si256(word, _mm256_slli_epi32(quantize8<FULL>(src[2] + x, m, dv.d[2], c), 16));
  if constexpr (NC > 3) word = _mm256_or_si256(word, _mm256_slli_epi32(quantize8<FULL>(src[3] + x, m, dv.d[3], c), 24));
  if constexpr (FULL)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + x), word);
  else
    _mm256_maskstore_epi32(reinterpret_cast<int*>(dst + x), m, word);
}

// One row of one group: NC real channels (the others' bytes 0), channel k divided by div[k]. Masked moves only for
// the row's last partial vector: they are slow on AMD (a masked store is microcoded there).
template <int NC>
void quantize_row(const float* const* src, const float* div, int pitch, std::int32_t* dst, const Consts& c) {
  const Divisors dv{{_mm256_set1_ps(div[0]), _mm256_set1_ps(div[1]), _mm256_set1_ps(div[2]), _mm256_set1_ps(div[3])}};
  int x = 0;
  for (; x + 8 <= pitch; x += 8) quantize_step<NC, true>(src, x, dst, _mm256_setzero_si256(), dv, c);
  if (x < pitch) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    quantize_step<NC, false>(src, x, dst, _mm256_cmpgt_epi32(_mm256_set1_epi32(pitch - x), lanes), dv, c);
  }
}

}  // namespace

void quantize_planes_u8_avx2(const PaddedPlanes& in, const QuantizedPlanes& out) {
  const U8Quant q = out.quant;
  const Consts c{_mm256_set1_ps(float(q.qmin - q.zero)), _mm256_set1_ps(float(255 - q.zero)),
                 _mm256_set1_epi32(q.zero)};
  quantize_u8_groups(in, out, [&c](auto nc, const float* const* src, const float* div, int pitch, std::int32_t* dst) {
    quantize_row<decltype(nc)::value>(src, div, pitch, dst, c);
  });
}

}  // namespace resr::cpu
