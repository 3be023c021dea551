// IEEE 754 binary16 <-> binary32 conversion, portable (no F16C needed): loading and writing fp16 weights,
// rounding weights to fp16 (quantizer, CUDA upload). Also bfloat16 (binary32's top 16 bits) <-> binary32, for the
// CPU's BF16 Winograd weights.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace resr {

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even; beyond the largest binary16, infinity; NaN stays NaN.
inline std::uint16_t float_to_half(float v) {
  std::uint32_t x;
  std::memcpy(&x, &v, 4);
  const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return std::uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));  // inf/nan
  if (abs >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // rounds to >= 65520: overflow
  if (abs < 0x38800000u) {                                       // subnormal or zero in fp16
    float f;
    std::memcpy(&f, &abs, 4);
    const float scaled = f * 16777216.0f;  // 2^24: one fp16 subnormal step is 2^-24
    return std::uint16_t(sign | std::uint16_t(std::nearbyint(scaled)));
  }
  const std::uint32_t mant_rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // round to nearest even at bit 13
  return std::uint16_t(sign | ((mant_rounded - 0x38000000u) >> 13));
}

// bfloat16: the top half of a binary32. Round to nearest even (as vcvtne2ps2bf16 does); NaN stays NaN.
inline std::uint16_t float_to_bf16(float v) {
  std::uint32_t x;
  std::memcpy(&x, &v, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((x >> 16) | 0x40u);  // quiet NaN
  return std::uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(std::uint16_t b) {
  const std::uint32_t x = std::uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace resr
