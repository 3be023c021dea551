// The one line a command prints when --bf16 was asked for and cannot take effect: the CPU lacks AVX512_BF16.
// Only where the model may run on the CPU (backend cpu or auto); the GPU and ref backends ignore --bf16 anyway.
#pragma once

#include <cstdio>
#include <string>

#include "backends/cpu/float_products.h"

namespace resr::cli {

inline void note_bf16_unavailable(bool bf16, const std::string& backend) {
  if (bf16 && (backend == "cpu" || backend == "auto") && !cpu::cpu_has_avx512_bf16())
    std::fprintf(stderr, "resr: --bf16: this CPU has no AVX512_BF16; the CPU multiplies in fp32\n");
}

}  // namespace resr::cli
