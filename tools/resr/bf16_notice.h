// The one line a command prints when --bf16 was asked for and cannot take effect: the CPU lacks AVX512_BF16 (where
// the model may run on the CPU: backend cpu or auto), or the backend is the reference one. The GPU ignores --bf16
// (it runs FP16 already).
#pragma once

#include <cstdio>
#include <string>

#include "backends/cpu/float_products.h"

namespace resr::cli {

inline void note_bf16_unavailable(bool bf16, const std::string& backend) {
  if (bf16 && (backend == "cpu" || backend == "auto") && !cpu::cpu_has_avx512_bf16())
    std::fprintf(stderr, "resr: --bf16: this CPU has no AVX512_BF16; the CPU multiplies in fp32\n");
  if (bf16 && backend == "ref")  // the oracle stays exact
    std::fprintf(stderr, "resr: --bf16 applies to the cpu backend; the reference backend multiplies in fp32\n");
}

}  // namespace resr::cli
