// FP8 E4M3 (the "E4M3FN" of OCP FP8 and Hopper's tensor cores): 1 sign, 4 exponent (bias 7), 3 mantissa bits.
// No infinities; 0x7f / 0xff are NaN; the largest finite value is 448, the smallest subnormal 2^-9.
//
//   round_to_e4m3(x)  the nearest E4M3 value as a float: round half to even, |x| > 448 saturates to +-448 (like
//                     CUDA's __NV_SATFINITE conversion), NaN stays NaN, +-0 stays +-0.
//   float_to_e4m3(x)  the same value's code;  e4m3_to_float(code)  its value.
// Header-only and portable: the CPU emulation, the .resr writer and reader, and the tests share it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace resr {

inline constexpr float kE4m3Max = 448.0f;

inline float e4m3_to_float(std::uint8_t code) {
  const int exp = (code >> 3) & 0xf, mant = code & 0x7;
  if (exp == 0xf && mant == 0x7) return std::nanf("");
  const float magnitude = exp == 0 ? std::ldexp(float(mant), -9) : std::ldexp(1.0f + float(mant) / 8.0f, exp - 7);
  return (code & 0x80) != 0 ? -magnitude : magnitude;
}

inline float round_to_e4m3(float x) {
  if (std::isnan(x)) return x;
  const float a = std::fabs(x);
  float r;
  if (a < 0.015625f) {  // below 2^-6, the subnormal grid of step 2^-9; nearbyint rounds half to even
    r = std::nearbyint(a * 512.0f) / 512.0f;
  } else if (a >= kE4m3Max) {
    r = kE4m3Max;
  } else {  // keep 3 of binary32's 23 mantissa bits, half to even; a carry into the exponent is right
    std::uint32_t bits;
    std::memcpy(&bits, &a, sizeof bits);
    bits += 0x7ffffu + ((bits >> 20) & 1u);
    bits &= ~0xfffffu;
    std::memcpy(&r, &bits, sizeof r);
    if (r > kE4m3Max) r = kE4m3Max;  // 464 <= a < 480 would round to 480, beyond the format
  }
  return std::copysign(r, x);
}

inline std::uint8_t float_to_e4m3(float x) {
  if (std::isnan(x)) return 0x7f;
  const float r = round_to_e4m3(x);
  const std::uint8_t sign = std::signbit(r) ? 0x80 : 0x00;
  const float a = std::fabs(r);
  if (a < 0.015625f) return std::uint8_t(sign | std::uint8_t(a * 512.0f));  // subnormal or zero: exact
  int e = 0;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const int mant = int(m * 16.0f) - 8;
  return std::uint8_t(sign | std::uint8_t((e - 1 + 7) << 3) | std::uint8_t(mant));
}

}  // namespace resr
