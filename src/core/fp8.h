// FP8 E4M3 (the "E4M3FN" of OCP FP8 and Hopper's tensor cores): 1 sign, 4 exponent (bias 7), 3 mantissa bits.
// No infinities; 0x7f / 0xff are NaN; the largest finite value is 448, the smallest subnormal 2^-9.
//
//   round_to_e4m3(x)  the nearest E4M3 value as a float: round half to even, |x| > 448 saturates to +-448 (like
//                     CUDA's __NV_SATFINITE conversion), NaN stays NaN, +-0 stays +-0.
//   float_to_e4m3(x)  the same value's code;  e4m3_to_float(code)  its value.
// Header-only and portable: the CPU emulation, the .resr writer and reader, and the tests share it.
#pragma once

#include <bit>
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

// Branch-free, on the bits (integer selects: compilers if-convert those, not float compares), so loops over
// tensors vectorise: the CPU's FP8 emulation rounds every conv input.
inline float round_to_e4m3(float x) {
  constexpr std::uint32_t kSmallestNormal = 0x3c800000u, kMaxBits = 0x43e00000u, kInf = 0x7f800000u;  // 2^-6, 448
  const std::uint32_t sign = std::bit_cast<std::uint32_t>(x) & 0x80000000u;
  const std::uint32_t a = std::bit_cast<std::uint32_t>(x) & 0x7fffffffu;
  // Normal range: keep 3 of binary32's 23 mantissa bits, half to even; a carry into the exponent is right.
  const std::uint32_t normal = (a + 0x7ffffu + ((a >> 20) & 1u)) & ~0xfffffu;
  // Below 2^-6, the subnormal grid of step 2^-9: adding 2^14 (whose ulp is 2^-9) rounds half to even.
  const float magnitude = std::bit_cast<float>(a);
  const std::uint32_t subnormal = std::bit_cast<std::uint32_t>((magnitude + 16384.0f) - 16384.0f);
  std::uint32_t r = a < kSmallestNormal ? subnormal : normal;
  r = r > kMaxBits && r <= kInf ? kMaxBits : r;  // saturate (infinity too); 464 <= |x| < 480 would round to 480
  r = a > kInf ? a : r;                          // a NaN stays itself
  return std::bit_cast<float>(r | sign);
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
