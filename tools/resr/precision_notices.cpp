#include "precision_notices.h"

#include <algorithm>
#include <cstdio>

#include "backends/cpu/float_products.h"
#include "engine/backend_factory.h"

namespace resr::cli {

void note_bf16_unavailable(bool bf16, const std::string& backend) {
  if (bf16 && (backend == "cpu" || backend == "auto") && !cpu::cpu_has_avx512_bf16())
    std::fprintf(stderr, "resr: --bf16: this CPU has no AVX512_BF16; the CPU multiplies in fp32\n");
  if (bf16 && backend == "ref")
    std::fprintf(stderr, "resr: --bf16 applies to the cpu backend; the reference backend multiplies in fp32\n");
}

void note_fp8_emulated(const engine::LoadedModel& model, const std::string& backend) {
  const bool fp8 = std::any_of(model.graph->nodes.begin(), model.graph->nodes.end(), [](const ir::Node& n) {
    return n.op == ir::Op::kConv2d && n.quant.precision == ir::Precision::kFp8;
  });
  if (fp8 && engine::resolve_backend(*model.graph, backend) != "cuda")
    std::fprintf(stderr,
                 "resr: note: %s has FP8 convolutions, which the CPU emulates in fp32 (slower than the FP32 model; "
                 "FP8 is for Hopper GPUs)\n",
                 model.param_path.c_str());
}

}  // namespace resr::cli
