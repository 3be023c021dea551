// FloatProducts: what the CPU's FP32 and FP16 convs may multiply in. kFp32 (the default): fp32 products, exact to
// fp32 rounding. kBf16: bfloat16 products where the CPU has AVX512_BF16 (the conv3x3_winograd63_bf16_avx512 kernel;
// measured x4plus 1.4-1.5x, x4fast 1.1-1.25x faster, less exact: docs/quantization.md, "BF16 products"); convs
// that kernel cannot run, and CPUs without it, keep fp32.
#pragma once

namespace resr::cpu {

enum class FloatProducts { kFp32, kBf16 };

// True when the running CPU can multiply in bfloat16 as kBf16 asks (AVX-512 and AVX512_BF16: Zen 4 and later,
// Cooper Lake, Sapphire Rapids and later). Defined in conv3x3_winograd.cpp.
bool cpu_has_avx512_bf16();

}  // namespace resr::cpu
